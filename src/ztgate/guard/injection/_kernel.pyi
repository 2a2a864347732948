import numpy as np
import numpy.typing as npt

def best_window(
    folded: str,
    weights: npt.NDArray[np.float32],
    bits: int,
    bias: float,
    word_table: bytes,
    window: int,
    stride: int,
    /,
) -> tuple[float, int]: ...
