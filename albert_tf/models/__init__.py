"""ALBERT models (tf_keras): the backbone, the pretrainer and the pretraining objectives."""
