"""Sum pooling (the NIR ``SumPool2d`` primitive); average pooling is ``torch.nn.AvgPool2d``.

::

    y[c, i, j] = Σ_{m<k_h, n<k_w} x_pad[c, s_h·i + m, s_w·j + n]      (zero padding)
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class SumPool2d(nn.Module):
    """2-D sum pooling over ``[B, C, H, W]``; ``stride`` defaults to ``kernel_size``."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride) if stride is not None else self.kernel_size
        self.padding = _pair(padding)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding,
            count_include_pad=True, divisor_override=1,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
