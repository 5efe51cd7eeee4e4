"""Type stubs of paraminit._core, the nanobind module (python/src/). Fills take any writable DLPack
tensor (torch CPU/CUDA, NumPy, CuPy; f32, f64, f16, bf16), fill it in place and return it."""
from typing import Literal, Optional, Sequence, Tuple, TypeVar, Union

import numpy
import numpy.typing

_T = TypeVar("_T")
Window = Sequence[int]
"""(dim, start, global_extent): the tensor is the slice [start, start + t.shape[dim]) along dim of a
parameter whose extent there is global_extent."""
Layout = Union[Literal["torch", "jax"], Tuple[int, int], Tuple[int, int, Sequence[int]]]
"""Fan layout: "torch" ((out, in, k...)), "jax" ((..., in, out)), or (in_axis, out_axis[, batch_axes])."""
FanMode = Literal["fan_in", "fan_out", "fan_avg"]
OrthogonalPath = Literal["automatic", "householder", "cholesky_qr", "cholesky_qr2"]
_Stream = Union[int, object]  # an int cudaStream_t, a torch.cuda.Stream or a cupy Stream

__version__: str

class Error(ValueError):
    """A paraminit library error: the library's message; .status is its category."""

    status: Literal["invalid_argument", "unsupported", "device", "out_of_memory", "numerical", "io", "internal"]

class Context:
    """Where fills run: a CPU thread pool, or a CUDA device and stream."""

    @staticmethod
    def cpu(threads: int = 0) -> Context:
        """A CPU context with `threads` worker threads (0: every core)."""
    @staticmethod
    def cuda(device: int = 0, stream: Optional[_Stream] = None) -> Context:
        """A CUDA context on `device`, running on `stream` (None: the legacy default stream)."""
    @property
    def is_cuda(self) -> bool: ...
    @property
    def threads(self) -> int:
        """CPU worker threads (0 for CUDA)."""
    @property
    def device(self) -> int:
        """CUDA ordinal (-1 for CPU)."""
    @property
    def stream(self) -> int:
        """The cudaStream_t as an int (0: the legacy default stream, and for CPU)."""
    def set_stream(self, stream: Optional[_Stream]) -> None:
        """Later calls of this CUDA context run on `stream`."""

def default_context(device: Union[None, int, str, object] = None) -> Context:
    """The default context of a device (None/"cpu", an int, "cuda", "cuda:N", a torch.device), created on first use."""

def set_num_threads(n: int) -> None:
    """Replace the default CPU context by one with n threads (0: every core)."""

def get_num_threads() -> int:
    """The thread count of the default CPU context."""

def cuda_built() -> bool: ...
def cuda_device_count() -> int: ...
def lapack_built() -> bool: ...
def stream_for_name(name: str) -> int:
    """The stable 64-bit stream of a parameter name (FNV-1a 64, then the SplitMix64 finalizer)."""

def key_for(seed: int, name: str) -> Tuple[int, int]:
    """(seed, stream_for_name(name))."""

def batch_stream(stream: int, k: int) -> int:
    """The stream of matrix k of a batched orthogonal_."""

def philox_bits(seed: int, stream: int, first: int, count: int) -> numpy.typing.NDArray[numpy.uint32]:
    """The raw 32-bit words first .. first + count - 1 of the stream (seed, stream)."""

def _direct_call_seconds(reps: int) -> float:
    """Median seconds of one direct C++ uniform call on a 1-element f32 buffer."""

# ---- random fills: keyword-only seed (required), name or stream, window, context ----------------

def uniform_(t: _T, a: float = 0.0, b: float = 1.0, *, seed: int, name: Optional[str] = None,
             stream: Optional[int] = None, window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """U(a, b); values in the open interval (a, b) in every dtype."""

def normal_(t: _T, mean: float = 0.0, std: float = 1.0, *, seed: int, name: Optional[str] = None,
            stream: Optional[int] = None, window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """N(mean, std^2) by Box-Muller."""

def trunc_normal_(t: _T, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, *, seed: int,
                  name: Optional[str] = None, stream: Optional[int] = None, window: Optional[Window] = None,
                  context: Optional[Context] = None) -> _T:
    """N(mean, std^2) conditioned on [a, b] (absolute bounds), by the inverse CDF."""

def sparse_(t: _T, sparsity: float, std: float = 0.01, *, seed: int, name: Optional[str] = None,
            stream: Optional[int] = None, window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """torch.nn.init.sparse_: ceil(sparsity * rows) zeros per column, the rest N(0, std^2)."""

def sparse_k_(t: _T, k: int = 15, std: float = 0.01, *, values: Literal["normal", "uniform"] = "normal",
              unit_axis: int = 0, seed: int, name: Optional[str] = None, stream: Optional[int] = None,
              window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """Exactly k non-zeros per unit (Martens 2010)."""

def lecun_uniform_(t: _T, *, layout: Layout = "torch", seed: int, name: Optional[str] = None,
                   stream: Optional[int] = None, window: Optional[Window] = None,
                   context: Optional[Context] = None) -> _T:
    """U(-sqrt(3 / fan_in), sqrt(3 / fan_in))."""

def lecun_normal_(t: _T, *, truncated: bool = False, layout: Layout = "torch", seed: int, name: Optional[str] = None,
                  stream: Optional[int] = None, window: Optional[Window] = None,
                  context: Optional[Context] = None) -> _T:
    """N(0, 1 / fan_in) (truncated: JAX's lecun_normal)."""

def xavier_uniform_(t: _T, gain: float = 1.0, *, layout: Layout = "torch", seed: int, name: Optional[str] = None,
                    stream: Optional[int] = None, window: Optional[Window] = None,
                    context: Optional[Context] = None) -> _T:
    """U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))."""

def xavier_normal_(t: _T, gain: float = 1.0, *, truncated: bool = False, layout: Layout = "torch", seed: int,
                   name: Optional[str] = None, stream: Optional[int] = None, window: Optional[Window] = None,
                   context: Optional[Context] = None) -> _T:
    """N(0, gain^2 2 / (fan_in + fan_out))."""

def kaiming_uniform_(t: _T, a: float = 0.0, mode: FanMode = "fan_in", nonlinearity: str = "leaky_relu", *,
                     layout: Layout = "torch", seed: int, name: Optional[str] = None, stream: Optional[int] = None,
                     window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """U(-b, b), b = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""

def kaiming_normal_(t: _T, a: float = 0.0, mode: FanMode = "fan_in", nonlinearity: str = "leaky_relu", *,
                    truncated: bool = False, layout: Layout = "torch", seed: int, name: Optional[str] = None,
                    stream: Optional[int] = None, window: Optional[Window] = None,
                    context: Optional[Context] = None) -> _T:
    """N(0, gain^2 / fan), gain = calculate_gain(nonlinearity, a)."""

def variance_scaling_(t: _T, scale: float = 1.0, mode: FanMode = "fan_in",
                      distribution: Literal["uniform", "normal", "truncated_normal"] = "truncated_normal", *,
                      layout: Layout = "torch", seed: int, name: Optional[str] = None, stream: Optional[int] = None,
                      window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """jax.nn.initializers.variance_scaling: v = scale / fan."""

def fan_in_uniform_(t: _T, fan_in: Optional[int] = None, *, layout: Layout = "torch", seed: int,
                    name: Optional[str] = None, stream: Optional[int] = None, window: Optional[Window] = None,
                    context: Optional[Context] = None) -> _T:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default Linear/Conv init."""

def orthogonal_(t: _T, gain: float = 1.0, *, path: OrthogonalPath = "automatic", batch_dims: int = 0, seed: int,
                name: Optional[str] = None, stream: Optional[int] = None, window: Optional[Window] = None,
                context: Optional[Context] = None) -> _T:
    """gain * Q of a Gaussian matrix's QR, sign-fixed (Haar); a window computes the whole Q."""

def delta_orthogonal_(t: _T, gain: float = 1.0, *, allow_even: bool = False, path: OrthogonalPath = "automatic",
                      seed: int, name: Optional[str] = None, stream: Optional[int] = None,
                      window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """Delta-orthogonal convolution kernel: the centre tap orthogonal, the rest 0."""

# ---- fills without random numbers ------------------------------------------------------------------

def orthogonalize_(t: _T, gain: float = 1.0, *, path: OrthogonalPath = "automatic",
                   context: Optional[Context] = None) -> _T:
    """Replace W by gain * Q of W = QR with diag(R) > 0."""

def constant_(t: _T, val: float, *, window: Optional[Window] = None, context: Optional[Context] = None) -> _T: ...
def zeros_(t: _T, *, window: Optional[Window] = None, context: Optional[Context] = None) -> _T: ...
def ones_(t: _T, *, window: Optional[Window] = None, context: Optional[Context] = None) -> _T: ...
def eye_(t: _T, gain: float = 1.0, *, window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """A 2-D identity times gain."""

def dirac_(t: _T, groups: int = 1, *, gain: float = 1.0, window: Optional[Window] = None,
           context: Optional[Context] = None) -> _T:
    """torch.nn.init.dirac_ times gain."""

def relu_bias_(t: _T, value: float = 0.1, *, window: Optional[Window] = None, context: Optional[Context] = None) -> _T:
    """Every element = value (0.1)."""

def gate_bias_(t: _T,
               layout: Literal["torch_lstm", "torch_gru", "keras_lstm", "keras_gru", "cudnn_lstm", "cudnn_gru"]
               = "torch_lstm", value: float = 1.0, others: float = 0.0, *, window: Optional[Window] = None,
               context: Optional[Context] = None) -> _T:
    """The forget / update gate's block = value, the other gates' = others."""

def output_bias_(t: _T, stats: Sequence[float], activation: Literal["softmax", "sigmoid", "identity"] = "softmax",
                 centered: bool = False, *, window: Optional[Window] = None,
                 context: Optional[Context] = None) -> _T:
    """Biases from the training set's marginals through the inverse activation."""

def variance_parameter_(t: _T, kind: Literal["variance", "precision", "std", "log_variance", "log_std"] = "variance",
                        variances: Optional[Sequence[float]] = None, *, window: Optional[Window] = None,
                        context: Optional[Context] = None) -> _T:
    """Variance-like parameters from a variance v (1, or variances[k])."""

# ---- host helpers ------------------------------------------------------------------------------------

def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """torch.nn.init.calculate_gain, extended by quadrature_gain."""

def quadrature_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """1 / sqrt(E[f(z)^2]) for z ~ N(0, 1)."""

def compute_fans(shape_or_tensor: Union[Sequence[int], object], layout: Layout = "torch") -> Tuple[int, int]:
    """(fan_in, fan_out) of a weight shape."""
