r"""Fine-tunes ALBERT for SQuAD v1.1-style extractive question answering (English with
SentencePiece, Chinese CMRC 2018 / DRCD with WordPiece), predicts, evaluates and exports.

Every flag of the original run_squad_v1.py keeps its name and default; the strategy, mixed
precision, XLA and seed flags are run_pretraining's. Restarting the same command resumes from the
newest checkpoint in --output_dir. docs/finetuning.md, "SQuAD".

  python -m albert_tf.run_squad_v1 --albert_config_file=albert_base/albert_config.json \
    --spm_model_file=albert_base/30k-clean.model --init_checkpoint=albert_base/model.ckpt-best \
    --train_file=train-v1.1.json --predict_file=dev-v1.1.json --output_dir=ft/squad1 \
    --do_train --do_predict --export_dir=serving/squad1
"""

from albert_tf import squad_command_line

ERROR_PREFIX = "albert-run-squad-v1: error: "

squad_command_line.define_flags(version_2=False)


def main(argv):
  del argv  # Unused.
  squad_command_line.main(version_2=False, error_prefix=ERROR_PREFIX)


def run():
  """Console-script entry point (albert-run-squad-v1)."""
  squad_command_line.run(version_2=False, error_prefix=ERROR_PREFIX)


if __name__ == "__main__":
  run()
