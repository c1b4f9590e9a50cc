"""albert-tf: ALBERT (A Lite BERT) for TensorFlow 2 / tf_keras, faithful to the original release."""

import setuptools

INSTALL_REQUIRES = [
    # The TF 2.20 family, pinned together: tf-models-official 2.20 is built against exactly these.
    "tensorflow~=2.20.0",
    "tf-keras~=2.20.0",
    "tensorflow-text~=2.20.0",
    "tf-models-official==2.20.0",
    "sentencepiece~=0.2.0",
    "absl-py>=1.4",
    "jieba==0.42.1",
    "numpy>=1.26",
]

EXTRAS_REQUIRE = {
    "test": ["pytest>=8", "pytest-xdist>=3.5", "tensorflow-serving-api~=2.20.0"],
    "bench": ["psutil>=5.9"],
    "lint": ["ruff>=0.17", "yapf>=0.43"],
    # create_pretraining_data --runner=...: Apache Beam and the CRC library its TFRecord sink needs.
    "beam": ["apache-beam[tfrecord]==2.77.0"],
}

setuptools.setup(
    name="albert-tf",
    version="0.1.0",
    description=("ALBERT for TensorFlow 2 / tf_keras: original checkpoints, data, TPU/GPU "
                 "pretraining, fine-tuning, TF Serving export."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    # configs/ stays at the top of the repo (where users look for it) and installs as
    # albert_tf.presets, so AlbertConfig.from_preset() works from a wheel as from a checkout.
    packages=setuptools.find_packages(
        include=["albert_tf", "albert_tf.*", "data_prep", "data_prep.*"]) + ["albert_tf.presets"],
    package_dir={"albert_tf.presets": "configs"},
    package_data={
        "albert_tf.presets": ["*.json"],
        "albert_tf": ["demo/*.txt", "demo/*/*.tsv"]
    },
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        "console_scripts": [
            "albert-build-vocab=data_prep.build_vocab:run",
            "albert-create-pretraining-data=data_prep.create_pretraining_data:run",
            "albert-run-pretraining=albert_tf.run_pretraining:run",
            "albert-run-classifier=albert_tf.run_classifier:run",
            "albert-run-squad-v1=albert_tf.run_squad_v1:run",
            "albert-run-squad-v2=albert_tf.run_squad_v2:run",
            "albert-run-race=albert_tf.run_race:run",
            "albert-export=albert_tf.export_savedmodel:run",
            "albert-export-checkpoints=albert_tf.export_checkpoints:run",
        ]
    },
)
