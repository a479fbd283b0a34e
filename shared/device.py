"""Device and dtype selection: CUDA with half precision when present, else CPU in float32."""
from __future__ import annotations

from enum import Enum

import torch

from shared.config import ConfigError


class Device(str, Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


def resolve_device(name: str | Device = Device.AUTO) -> tuple[torch.device, torch.dtype]:
    """``auto`` picks CUDA when available; CUDA runs bf16 where supported, else fp16."""
    value = str(name.value if isinstance(name, Device) else name).lower()
    if value not in {d.value for d in Device}:
        raise ConfigError(f"DEVICE={name!r}: expected one of {', '.join(d.value for d in Device)}")
    choice = Device(value)
    if choice is Device.AUTO:
        choice = Device.CUDA if torch.cuda.is_available() else Device.CPU
    if choice is Device.CUDA:
        if not torch.cuda.is_available():
            raise RuntimeError("DEVICE=cuda was asked for but no CUDA device is available")
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype
    return torch.device("cpu"), torch.float32
