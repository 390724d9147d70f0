"""Pure diffusion maths: forward processes, targets and per-frame timestep rows. No state, no I/O."""

from lvg.noise.ddpm import ddpm_xt, eps_from_v, v_target, x0_from_eps
from lvg.noise.flow_match import flow_match_target, flow_match_x0, flow_match_xt
from lvg.noise.timesteps import expand_to_tokens, logit_normal_t, uniform_rows

__all__ = [
    "ddpm_xt",
    "eps_from_v",
    "expand_to_tokens",
    "flow_match_target",
    "flow_match_x0",
    "flow_match_xt",
    "logit_normal_t",
    "uniform_rows",
    "v_target",
    "x0_from_eps",
]
