"""Published ALBERT configs, installed as the package `albert_tf.presets` (see setup.py)."""
