"""theme_classification: which themes an article ties to which stocks (T5 + TF-IDF)."""
