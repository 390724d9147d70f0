"""AF, the average magnitude of the frequency spectrum (error-free paper, §3.4 eq. 6), over frames.

The extracted eq. 6 lost its symbols: it names the magnitude |X(f)| at frequency f and the radial frequency r(f).
We read it as the magnitude-weighted mean radial frequency (a spectral centroid): the 2D FFT magnitude of every
frame and channel is averaged within radial-frequency bins, then AF = sum_b r_b P_b / sum_b P_b. It grows with the
share of high-frequency content (sharp edges, fine texture, noise) and is 0 for a flat image; `normalise=False`
gives the unnormalised mean of r |X| instead. Each frame's mean is removed first (`remove_mean`), so brightness
(the DC term) does not dilute the measure.
"""

from __future__ import annotations

import torch


def radial_frequency(height: int, width: int) -> torch.Tensor:
    """|f| in cycles per pixel of each 2D FFT bin, [H, W] in [0, sqrt(0.5)]."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.fftfreq(width)[None, :]
    return torch.sqrt(fy**2 + fx**2)


def radial_spectrum(frames: torch.Tensor, bins: int | None = None, remove_mean: bool = True):
    """Mean FFT magnitude per radial-frequency bin over frames [..., H, W]: (bin centres [bins], magnitudes [bins]).

    Every leading dimension (batch, channels, frames) is averaged; `bins` defaults to min(H, W) // 2 + 1."""
    x = frames.float()
    if remove_mean:
        x = x - x.mean(dim=(-2, -1), keepdim=True)
    h, w = x.shape[-2:]
    magnitude = torch.fft.fft2(x).abs().reshape(-1, h, w).mean(0)  # [H, W]
    radius = radial_frequency(h, w).to(magnitude.device)
    bins = bins or min(h, w) // 2 + 1
    edges = torch.linspace(0, float(radius.max()) + 1e-9, bins + 1, device=magnitude.device)
    index = (torch.bucketize(radius.flatten(), edges, right=True) - 1).clamp(0, bins - 1)
    sums = torch.zeros(bins, device=magnitude.device).index_add_(0, index, magnitude.flatten())
    counts = torch.zeros(bins, device=magnitude.device).index_add_(0, index, torch.ones_like(magnitude.flatten()))
    centres = (edges[:-1] + edges[1:]) / 2
    return centres, sums / counts.clamp(min=1)


def average_frequency(
    frames: torch.Tensor, bins: int | None = None, normalise: bool = True, remove_mean: bool = True
) -> float:
    """Eq. 6 over frames [..., H, W] (any value range; compare videos in the same one): sum r P(r) / sum P(r)."""
    r, p = radial_spectrum(frames, bins, remove_mean)
    weighted = float((r * p).sum())
    if not normalise:
        return weighted / len(p)
    total = float(p.sum())
    floor = 1e-6 * frames.shape[-2] * frames.shape[-1] * float(frames.abs().max())  # float residue of a flat image
    return weighted / total if total > floor else 0.0
