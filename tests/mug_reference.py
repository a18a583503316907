"""Mug-STAN eqs. 11-18 ([M] §III-C/D, /work/shared/docs/papers.md §2) for one text-video
pair at a time, following the paper's embeddings literally (c-bar, v-tilde, v-bar,
c-tilde): the reference the Mug head and its benchmark are tested against."""
import torch
import torch.nn.functional as F

TAU = 100.0


def paper_mug(c, v, tau=TAU):
    """Eqs. 11-18 for one pair. c: [K, E] real tokens, v: [T, E], both L2-normalised."""
    logits = tau * v @ c.T                                          # [T, K]: tau c_j·v_i
    s = torch.softmax(logits, dim=1)                                # (11) over tokens j
    c_bar = s @ c                                                   # (12) [T, E]
    s_tilde = torch.softmax(tau * (c_bar * v).sum(1), dim=0)        # (13) over frames
    v_tilde = s_tilde @ v                                           # (14)
    s_prime = torch.softmax(logits, dim=0)                          # (15) over frames i
    v_bar = s_prime.T @ v                                           # (16) [K, E]
    s_tilde_prime = torch.softmax(tau * (c * v_bar).sum(1), dim=0)  # (17) over tokens
    c_tilde = s_tilde_prime @ c                                     # (18)
    return c_tilde @ v_tilde


def paper_gallery(tokens, mask, frames, tau=TAU):
    """[M, N] from :func:`paper_mug`, pair by pair, padding dropped before anything."""
    out = torch.empty(tokens.shape[0], frames.shape[0], dtype=torch.float64)
    for a in range(tokens.shape[0]):
        real = F.normalize(tokens[a][mask[a]].double(), dim=-1)
        for b in range(frames.shape[0]):
            out[a, b] = paper_mug(real, F.normalize(frames[b].double(), dim=-1), tau)
    return out
