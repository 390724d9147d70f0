"""Chunk-wise image-to-video (chunk-wise paper §3.2): chunk i is an I2V sample guided by the last frame of chunk i-1
(the first chunk by the user's guide image); the chunks are concatenated.

Training-free on a pretrained I2V model; finetunable through the same module, where the objective is the I2V one:
the guide frame given, the rest generated, the guide dropped at `drop_rate` (the unconditional branch of
`condition_guidance`). Pair it with `lvg.search.KStepSearch` as the noise init for the paper's k-step search
(Algorithm 1); with the default Gaussian noise it is the naive baseline. Each chunk keeps the frames after the guide
(the guide is the previous chunk's last frame, so it is not repeated).
"""

from __future__ import annotations

from lvg.errors import require
from lvg.methods.error_recycling import ErrorRecycling
from lvg.methods.extension import Extension


class ChunkwiseI2V(Extension):
    """Chunk-by-chunk I2V: one guide frame carried from chunk to chunk.

    Args:
        drop_rate: in training, the share of samples with the guide dropped (the rest are plain I2V samples).
        timestep_sampling, condition_fill, condition_guidance, guidance_rescale, guidance_min_t: as for `Extension`
            (how the guide fills the frames to generate; guidance on the guide frame, whose unconditional branch the
            dropped samples train).
        error_recycling: as for `Extension` (the guide frame is the condition it corrupts).
    """

    def __init__(
        self,
        drop_rate: float = 0.1,
        timestep_sampling: str = "uniform",
        condition_fill: str = "zeros",
        condition_guidance: float = 1.0,
        guidance_rescale: float = 0.0,
        guidance_min_t: float = 0.0,
        error_recycling: ErrorRecycling | None = None,
    ):
        require(0 <= drop_rate < 1, f"drop_rate must be in [0, 1), got {drop_rate}")
        probs = {"first": 1 - drop_rate, "none": drop_rate} if drop_rate > 0 else {"first": 1.0}
        super().__init__(
            1,
            1,
            probs,
            timestep_sampling,
            False,
            condition_fill,
            condition_guidance=condition_guidance,
            guidance_rescale=guidance_rescale,
            guidance_min_t=guidance_min_t,
            error_recycling=error_recycling,
        )
        self.drop_rate = drop_rate
