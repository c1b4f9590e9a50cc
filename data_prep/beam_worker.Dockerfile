# A slim worker image for `albert-create-pretraining-data --runner=DataflowRunner|FlinkRunner|
# SparkRunner|PortableRunner` (docs/data.md, "Beam"): Beam's Python SDK image, the worker
# requirements, and the albert-tf code installed without its dependencies (no TensorFlow).
#
#   docker build -f data_prep/beam_worker.Dockerfile -t REGION-docker.pkg.dev/PROJECT/REPO/albert-beam .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/albert-beam
#   ... --runner=DataflowRunner -- --sdk_container_image=REGION-docker.pkg.dev/PROJECT/REPO/albert-beam
#
# The SDK image's Python and Beam version must match the launching machine's (3.11, 2.77.0 here).
FROM apache/beam_python3.11_sdk:2.77.0

COPY data_prep/beam_worker_requirements.txt /tmp/albert-tf/
RUN pip install --no-cache-dir -r /tmp/albert-tf/beam_worker_requirements.txt

COPY setup.py README.md /tmp/albert-tf/src/
COPY albert_tf /tmp/albert-tf/src/albert_tf
COPY configs /tmp/albert-tf/src/configs
COPY data_prep /tmp/albert-tf/src/data_prep
RUN pip install --no-cache-dir --no-deps /tmp/albert-tf/src \
    && python -c "import sys; sys.modules['tensorflow'] = None; import data_prep.beam_pipeline" \
    && rm -rf /tmp/albert-tf
