"""Corpus -> vocabulary -> pretraining TFRecords, compatible with Google's original ALBERT scripts."""
