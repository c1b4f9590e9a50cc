"""Classification data: local task files -> examples -> cached TFRecord features -> tf.data.

Example:
  from albert_tf.tasks import classifier_data as cd
  processor = cd.get_processor("mrpc", use_spm=True, do_lower_case=True)
  examples = processor.get_examples("glue", "train")
  path, count = cd.cached_features(
      cached_dir="ft/mrpc", task_name="mrpc", split="train", examples=examples,
      label_list=processor.get_labels(), max_seq_length=128, tokenizer=tokenizer,
      vocab_fingerprint=cd.vocab_fingerprint(spm_model_file="30k-clean.model",
                                             vocab_file=None, do_lower_case=True),
      is_regression=processor.is_regression)
  dataset = cd.classifier_dataset(path, batch_size=32, max_seq_length=128, is_training=True,
                                  is_regression=processor.is_regression)
"""

from official.nlp.data.classifier_data_lib import InputExample

from albert_tf.tasks.classifier_data.dataset import classifier_dataset
from albert_tf.tasks.classifier_data.errors import ClassifierDataError
from albert_tf.tasks.classifier_data.features import cached_features
from albert_tf.tasks.classifier_data.features import record_path
from albert_tf.tasks.classifier_data.features import vocab_fingerprint
from albert_tf.tasks.classifier_data.file_io import read_label_list
from albert_tf.tasks.classifier_data.file_io import write_label_list
from albert_tf.tasks.classifier_data.generic import GenericTaskSpec
from albert_tf.tasks.classifier_data.processor import ClassifierProcessor
from albert_tf.tasks.classifier_data.registry import get_processor
from albert_tf.tasks.classifier_data.registry import task_names

__all__ = [
    "ClassifierDataError",
    "ClassifierProcessor",
    "GenericTaskSpec",
    "InputExample",
    "cached_features",
    "classifier_dataset",
    "get_processor",
    "read_label_list",
    "record_path",
    "task_names",
    "vocab_fingerprint",
    "write_label_list",
]
