r"""Fine-tunes ALBERT for SQuAD 2.0 (questions that may have no answer in the paragraph) with the
original's XLNet-style answer head and no-answer classifier, predicts, evaluates and exports.

Every flag of the original run_squad_v2.py keeps its name and default; the strategy, mixed
precision, XLA and seed flags are run_pretraining's, and --null_score_diff_threshold fixes a
no-answer threshold in advance. docs/finetuning.md, "SQuAD 2.0".

  python -m albert_tf.run_squad_v2 --albert_config_file=albert_base/albert_config.json \
    --spm_model_file=albert_base/30k-clean.model --init_checkpoint=albert_base/model.ckpt-best \
    --train_file=train-v2.0.json --predict_file=dev-v2.0.json --output_dir=ft/squad2 \
    --do_train --do_predict --export_dir=serving/squad2
"""

from albert_tf import squad_command_line

ERROR_PREFIX = "albert-run-squad-v2: error: "

squad_command_line.define_flags(version_2=True)


def main(argv):
  del argv  # Unused.
  squad_command_line.main(version_2=True, error_prefix=ERROR_PREFIX)


def run():
  """Console-script entry point (albert-run-squad-v2)."""
  squad_command_line.run(version_2=True, error_prefix=ERROR_PREFIX)


if __name__ == "__main__":
  run()
