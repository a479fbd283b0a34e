"""file_server: the suite's file store for theme lists, clustering inputs, results and model artifacts."""
