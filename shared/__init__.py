"""Code shared by the three servers of the Theme API suite: config, logging, errors, models."""
