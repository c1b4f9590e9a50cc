"""SQuAD-format data: JSON -> examples -> windows of tokens -> cached TFRecords -> tf.data.

SQuAD v1.1 / v2.0, and CMRC 2018 / DRCD (SQuAD JSON). SentencePiece models use tf-models'
`squad_lib_sp` features (the original algorithm); a WordPiece vocabulary (`--vocab_file` without
`--spm_model_file`, e.g. the Chinese ALBERT models) uses the basic tokenizer's exact character
alignment and the same windows and InputFeatures fields, so post-processing is shared.

Example:
  from albert_tf.tasks import squad_data as sd
  from albert_tf.tasks.classifier_data import vocab_fingerprint
  settings = sd.FeatureSettings(max_seq_length=384, doc_stride=128, max_query_length=64)
  tokenizer = sd.make_tokenizer(spm_model_file="30k-clean.model", vocab_file=None,
                                do_lower_case=True)
  fingerprint = vocab_fingerprint(spm_model_file="30k-clean.model", vocab_file=None,
                                  do_lower_case=True)
  train = sd.read_squad_examples("train-v2.0.json", is_training=True,
                                 version_2_with_negative=True)
  record_file, num_features = sd.cached_train_features("out/cache", "squad_v2", train, tokenizer,
                                                       settings, fingerprint)
  dataset = sd.squad_dataset(record_file, batch_size=48, is_training=True, max_seq_length=384)
  dev = sd.read_squad_examples("dev-v2.0.json", is_training=False, version_2_with_negative=True)
  predict_file, features = sd.cached_eval_features("out/cache", "squad_v2", dev, tokenizer,
                                                   settings, fingerprint)
"""

from official.nlp.data.squad_lib_sp import InputFeatures
from official.nlp.data.squad_lib_sp import SquadExample

from albert_tf.tasks.feature_cache import metadata_path
from albert_tf.tasks.squad_data.cache import cached_eval_features
from albert_tf.tasks.squad_data.cache import cached_train_features
from albert_tf.tasks.squad_data.cache import record_path
from albert_tf.tasks.squad_data.dataset import squad_dataset
from albert_tf.tasks.squad_data.errors import SquadDataError
from albert_tf.tasks.squad_data.examples import TRAIN_SHUFFLE_SEED
from albert_tf.tasks.squad_data.examples import read_squad_examples
from albert_tf.tasks.squad_data.examples import shuffled_examples
from albert_tf.tasks.squad_data.features import BASE_UNIQUE_ID
from albert_tf.tasks.squad_data.features import ConversionStats
from albert_tf.tasks.squad_data.features import convert_examples_to_features
from albert_tf.tasks.squad_data.features import make_tokenizer
from albert_tf.tasks.squad_data.records import p_mask
from albert_tf.tasks.squad_data.settings import FeatureSettings

__all__ = [
    "BASE_UNIQUE_ID",
    "ConversionStats",
    "FeatureSettings",
    "InputFeatures",
    "SquadDataError",
    "SquadExample",
    "TRAIN_SHUFFLE_SEED",
    "cached_eval_features",
    "cached_train_features",
    "convert_examples_to_features",
    "make_tokenizer",
    "metadata_path",
    "p_mask",
    "read_squad_examples",
    "record_path",
    "shuffled_examples",
    "squad_dataset",
]
