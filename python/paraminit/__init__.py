"""paraminit: neural-network parameter initialization, in place, on any DLPack tensor.

Every random value is a pure function of (seed, stream, global element index): the CPU and any GPU
give the same bits, and any shard (``window=``) of a parameter gets the bits of the same part of
the whole. ``name=`` derives the stream from a parameter's name (``key_for``), so values depend
neither on initialization order nor on which process initializes.

    import torch, paraminit
    w = torch.empty(768, 3072)
    paraminit.kaiming_uniform_(w, a=5 ** 0.5, seed=1234, name="mlp.c_fc.weight")

Errors: ``TypeError`` (not a tensor, unsupported dtype), ``ValueError`` (read-only, non-contiguous,
bad values; library errors are ``paraminit.Error``, a ``ValueError`` with a ``.status``); the
tensor is left unchanged.
"""
from ._core import (
    Context,
    Error,
    __version__,
    batch_stream,
    calculate_gain,
    compute_fans,
    constant_,
    cuda_built,
    cuda_device_count,
    default_context,
    delta_orthogonal_,
    dirac_,
    eye_,
    fan_in_uniform_,
    gate_bias_,
    get_num_threads,
    kaiming_normal_,
    kaiming_uniform_,
    key_for,
    lapack_built,
    lecun_normal_,
    lecun_uniform_,
    normal_,
    ones_,
    orthogonal_,
    orthogonalize_,
    output_bias_,
    philox_bits,
    quadrature_gain,
    relu_bias_,
    set_num_threads,
    sparse_,
    sparse_k_,
    stream_for_name,
    trunc_normal_,
    uniform_,
    variance_parameter_,
    variance_scaling_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)

# The other names of the same schemes (JAX / Keras spell them so); the same functions.
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_
glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_

__all__ = [
    "Context", "Error", "__version__", "batch_stream", "calculate_gain", "compute_fans", "constant_",
    "cuda_built", "cuda_device_count", "default_context", "delta_orthogonal_", "dirac_", "eye_",
    "fan_in_uniform_", "gate_bias_", "get_num_threads", "glorot_normal_", "glorot_uniform_",
    "he_normal_", "he_uniform_", "kaiming_normal_", "kaiming_uniform_", "key_for", "lapack_built",
    "lecun_normal_", "lecun_uniform_", "normal_", "ones_", "orthogonal_", "orthogonalize_",
    "output_bias_", "philox_bits", "quadrature_gain", "relu_bias_", "set_num_threads", "sparse_",
    "sparse_k_", "stream_for_name", "trunc_normal_", "uniform_", "variance_parameter_",
    "variance_scaling_", "xavier_normal_", "xavier_uniform_", "zeros_",
]
