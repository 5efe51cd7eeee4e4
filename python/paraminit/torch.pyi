"""Type stubs of paraminit.torch (see torch.py for the documentation)."""
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

import paraminit

Rule = Mapping[str, Any]
Rules = Union[None, str, os.PathLike, Mapping[str, Any]]
Window = Tuple[int, int, int]

SCHEME_FIELDS: Dict[str, Tuple[str, ...]]

@dataclass
class ReportRow:
    name: str
    shape: Tuple[int, ...]
    global_shape: Tuple[int, ...]
    dtype: str
    scheme: str
    fields: Dict[str, Any]
    mean: float
    std: float
    expected_std: Optional[float]
    ok: Optional[bool]
    ms: float
    window: Optional[Tuple[Tuple[int, int], ...]] = ...
    buffer: bool = ...
    def spec_entry(self) -> Dict[str, Any]: ...

class Report(List[ReportRow]):
    seed: int
    @property
    def ok(self) -> bool: ...
    @property
    def failed(self) -> List[str]: ...
    def to_spec(self, seed: Optional[int] = ...) -> Dict[str, Any]: ...

def init_module(
    module: torch.nn.Module,
    seed: Optional[int],
    rules: Rules = ...,
    device: Union[None, str, torch.device] = ...,
    *,
    gate_bias: Optional[float] = ...,
    windows: Optional[Mapping[str, Window]] = ...,
    measure: bool = ...,
    context: Optional[paraminit.Context] = ...,
) -> Report: ...
def fill_(tensor: torch.Tensor, rule: Rule, *, seed: int, name: str, window: Optional[Window] = ...,
          context: Optional[paraminit.Context] = ...) -> torch.Tensor: ...
def default_scheme(module: torch.nn.Module, local_name: str, shape: Sequence[int], *,
                   gate_bias: Optional[float] = ...) -> Optional[Dict[str, Any]]: ...
def dtensor_block(t: Any) -> Optional[List[Tuple[int, int]]]: ...
def expected_stats(rule: Rule, shape: Sequence[int], sharded: bool = ...) -> Optional[Tuple[float, float, bool]]: ...
def load_rules(spec: Union[str, os.PathLike, Mapping[str, Any]]) -> Tuple[List[Tuple[str, Dict[str, Any]]], Optional[int]]: ...
