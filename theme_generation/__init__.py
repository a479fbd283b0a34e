"""theme_generation server: sentence-level theme-stock pairs, relevance, theme clustering."""
