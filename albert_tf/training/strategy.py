"""Builds the tf.distribute strategy for pretraining from the command-line choice.

The strategies themselves come from `official.common.distribute_utils.get_distribution_strategy`;
this module adds what the trainer needs around it: `auto` selection, logical CPU devices for
debugging distribution on a laptop, and a fast, clear failure when a TPU is asked for but absent
(TPUClusterResolver would otherwise wait on the GCE metadata server).
"""

import functools
import glob
import json
import os
import socket
import urllib.parse

from absl import logging
from official.common import distribute_utils
import tensorflow as tf

STRATEGY_NAMES = ("auto", "tpu", "mirrored", "multi_worker_mirrored", "one_device")

# Variables a Cloud TPU VM or GKE TPU pod sets for its workloads.
_TPU_ENVIRONMENT_VARIABLES = ("TPU_NAME", "TPU_WORKER_HOSTNAMES", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS",
                              "TPU_ACCELERATOR_TYPE")
_TPU_DEVICE_FILES = ("/dev/accel*", "/dev/vfio/[0-9]*")
_TPU_CONNECT_TIMEOUT_S = 10.0


class StrategyError(ValueError):
  """The requested distribution strategy cannot be built on this machine."""


def tpu_environment_present() -> bool:
  """Whether this process looks like it runs on (or next to) a Cloud TPU."""
  if any(os.environ.get(name) for name in _TPU_ENVIRONMENT_VARIABLES):
    return True
  return any(glob.glob(pattern) for pattern in _TPU_DEVICE_FILES)


def _check_tpu_reachable(tpu: str | None) -> None:
  if not tpu or tpu == "local":
    if not tpu_environment_present():
      raise StrategyError(
          "--distribution_strategy=tpu but no TPU was found on this machine (no /dev/accel*, no "
          "TPU_NAME): "
          "pass --tpu=<name or grpc://host:8470>, or use --distribution_strategy=auto.")
    return
  address = urllib.parse.urlparse(tpu)
  if address.scheme == "grpc":
    try:
      socket.create_connection((address.hostname, address.port or 8470),
                               timeout=_TPU_CONNECT_TIMEOUT_S).close()
    except OSError as error:
      raise StrategyError(f"--tpu={tpu} is not reachable ({error}): check the address and that the "
                          "TPU is running.") from error


def split_cpu(num_devices: int) -> None:
  """Splits the host CPU into `num_devices` logical devices (must run before TF initialises)."""
  if num_devices <= 1:
    return
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])


def tf_config() -> dict:
  """The TF_CONFIG environment variable as a dict ({} when unset).

  Raises:
    StrategyError: TF_CONFIG is not a JSON object whose "cluster" maps job names to address lists
      and whose "task" names a job of that cluster (TensorFlow would fail later, less clearly).
  """
  text = os.environ.get("TF_CONFIG", "").strip()
  if not text:
    return {}
  fix = ('set it to JSON such as {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
         '"task": {"type": "worker", "index": 0}}, or unset it')
  try:
    config = json.loads(text)
  except json.JSONDecodeError as error:
    raise StrategyError(f"TF_CONFIG is not JSON ({error.msg} at character {error.pos}): "
                        f"{fix}") from None
  cluster = config.get("cluster", {}) if isinstance(config, dict) else None
  if not isinstance(cluster, dict) or not all(
      isinstance(addresses, list) for addresses in cluster.values()):
    raise StrategyError(f"TF_CONFIG must be a JSON object whose \"cluster\" maps job names to "
                        f"lists of host:port addresses: {fix}")
  task = config.get("task", {})
  if cluster and (not isinstance(task, dict) or task.get("type") not in cluster or
                  not isinstance(task.get("index", 0), int)):
    raise StrategyError(f"TF_CONFIG's \"task\" ({json.dumps(task)}) must name a job of its "
                        f"cluster ({', '.join(sorted(cluster))}) and an integer index: {fix}")
  return config


def _is_multi_worker() -> bool:
  cluster = tf_config().get("cluster", {})
  return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1


def _tpu_strategy(tpu: str | None, zone: str | None, project: str | None) -> tf.distribute.Strategy:
  if not (zone or project):
    return distribute_utils.get_distribution_strategy("tpu", tpu_address=tpu or "")
  # official's factory has no zone/project; resolving a TPU by name in another zone needs them.
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu, zone=zone, project=project)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


@functools.lru_cache(maxsize=None)
def _multi_worker_strategy() -> tf.distribute.Strategy:
  """This process's one MultiWorkerMirroredStrategy.

  A second one in the same process starts the collectives again ("Enabling collective ops after
  program startup"), and the next collective between the workers then aborts, so a process that
  runs several trainings (e.g. `pretraining_run.run` twice) shares the first.
  """
  return distribute_utils.get_distribution_strategy("multi_worker_mirrored")


def build_strategy(distribution_strategy: str = "auto", tpu: str | None = None,
                   num_gpus: int | None = None, tpu_zone: str | None = None,
                   gcp_project: str | None = None) -> tf.distribute.Strategy:
  """Returns the tf.distribute strategy for a run.

  Args:
    distribution_strategy: one of STRATEGY_NAMES. `auto` picks TPU when `tpu` is given or a TPU
      environment is present, multi_worker_mirrored when TF_CONFIG names several workers, else all
      visible GPUs (mirrored, or one_device for one GPU), else the CPU (mirrored over the logical
      CPU devices when `split_cpu` made several, else one_device).
    tpu: TPU name or grpc:// address (the original's --tpu_name/--master).
    num_gpus: GPUs to use; None means all visible ones.
    tpu_zone: GCE zone of a TPU given by name (the original's --tpu_zone).
    gcp_project: GCP project of a TPU given by name (the original's --gcp_project).

  Returns:
    The strategy.

  Raises:
    StrategyError: unknown name, hardware that is not there, or a malformed TF_CONFIG.
  """
  if distribution_strategy not in STRATEGY_NAMES:
    raise StrategyError(f"--distribution_strategy={distribution_strategy} is unknown: use one of "
                        f"{', '.join(STRATEGY_NAMES)}.")
  tf_config()  # a malformed TF_CONFIG is one clear line, whichever strategy is asked for
  visible_gpus = len(tf.config.list_physical_devices("GPU"))
  if num_gpus is None:
    num_gpus = visible_gpus
  elif num_gpus > visible_gpus:
    raise StrategyError(f"--num_gpus={num_gpus} but only {visible_gpus} GPU(s) are visible.")

  if distribution_strategy == "auto":
    if tpu or tpu_environment_present():
      distribution_strategy = "tpu"
    elif _is_multi_worker():
      distribution_strategy = "multi_worker_mirrored"
    elif num_gpus > 1 or (not num_gpus and len(tf.config.list_logical_devices("CPU")) > 1):
      distribution_strategy = "mirrored"
    else:
      distribution_strategy = "one_device"
  logging.info("Distribution strategy: %s (GPUs: %d, TPU: %s)", distribution_strategy, num_gpus,
               tpu)

  if distribution_strategy == "tpu":
    _check_tpu_reachable(tpu)
  return _strategy(distribution_strategy, num_gpus, tpu, tpu_zone, gcp_project)


@functools.lru_cache(maxsize=None)
def _strategy(distribution_strategy: str, num_gpus: int, tpu: str | None, tpu_zone: str | None,
              gcp_project: str | None) -> tf.distribute.Strategy:
  """One strategy per distinct request and process.

  A process that runs several trainings (tests, notebooks, run_classifier after pretraining) gets
  the same strategy again: every new collective strategy numbers its collectives from the same
  keys, and the runtime keeps the shapes of the old ones under those keys, so a second
  MirroredStrategy whose first all-reduce has another shape aborts ("Shape mismatch in the
  collective instance 100").
  """
  if distribution_strategy == "tpu":
    return _tpu_strategy(tpu, tpu_zone, gcp_project)
  if distribution_strategy == "mirrored" and not num_gpus:
    # official's factory mirrors over CPU:0 only; use every logical CPU so distribution can be
    # exercised without accelerators.
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)
  if distribution_strategy == "multi_worker_mirrored":
    return _multi_worker_strategy()  # it uses every local GPU; num_gpus does not apply
  return distribute_utils.get_distribution_strategy(distribution_strategy, num_gpus=num_gpus)


def local_replica_count(strategy: tf.distribute.Strategy) -> int:
  """Replicas on this worker (1 for the default strategy, which has no device list)."""
  try:
    return len(strategy.extended.worker_devices)
  except RuntimeError:
    return 1


def _cluster_task(strategy: tf.distribute.Strategy) -> tuple[str | None, int]:
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return None, 0
  resolver = strategy.cluster_resolver
  return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this worker writes the shared outputs (checkpoints, summaries, eval results)."""
  task_type, task_id = _cluster_task(strategy)
  return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and "chief"
                                          not in strategy.cluster_resolver.cluster_spec().as_dict())


def worker_index(strategy: tf.distribute.Strategy) -> int:
  """The index of this worker in its task type (0 without a cluster)."""
  return _cluster_task(strategy)[1]
