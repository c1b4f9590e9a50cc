"""brightmart/albert_zh's own ALBERT layout, to load and run its released Chinese checkpoints.

brightmart's albert_tiny_zh, albert_base_zh, albert_large_zh and albert_xlarge_zh (reference/
albert_zh.md §4) are a different model from Google's: the E->H projection `word_embeddings_2` (no
bias) comes right after the word lookup, position/type embeddings and the embedding LayerNorm act at
width H, one `bert/encoder/layer_shared` block is applied L times, and the MLM head transforms H->H
and scores against `word_embeddings_2`ᵀ·`word_embeddings`ᵀ. Their post-LN blocks are Google's.

Example:

    from albert_tf import brightmart
    config = albert_tf.AlbertConfig.from_json_file("albert_tiny/albert_config_tiny.json")
    model = brightmart.BrightmartAlbertModel(config)
    albert_tf.load_checkpoint(model, "albert_tiny/albert_model.ckpt")
"""

from albert_tf.brightmart.embeddings import BrightmartEmbeddings
from albert_tf.brightmart.models import BrightmartAlbertModel
from albert_tf.brightmart.models import BrightmartPretrainer
