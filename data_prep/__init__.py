"""Corpus -> vocabulary -> pretraining TFRecords, compatible with the original ALBERT scripts."""
