"""Building, training and evaluating the suite's T5 models (``theme-train``, ``theme-eval``)."""
