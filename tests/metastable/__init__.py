"""Tests of the second act (`reproducer.metastable`)."""
