"""Keras layers of ALBERT (tf_keras), one public layer per module."""

from albert_tf.layers.embeddings import AlbertEmbeddings
from albert_tf.layers.masked_lm_head import AlbertMaskedLMHead
from albert_tf.layers.sentence_order_head import AlbertSentenceOrderHead
from albert_tf.layers.shared_encoder import AlbertSharedEncoder
from albert_tf.layers.transformer_block import AlbertTransformerBlock
