"""STAN-LLaVA ([M] §IV-F): LLaVA's projector and LLM, unchanged, reading the video tokens
of :class:`~mmstan.chat.video_tower.STANVideoTower` in place of one image's tokens.

transformers is imported only inside the functions here (``pip install mmstan[chat]``);
nothing outside :mod:`mmstan.chat` imports it.

One chat turn: frames -> LLaVA's image processor -> tower tokens ``[1, T'*N, D]`` ->
LLaVA's ``multi_modal_projector`` -> ``[1, T'*N, H]``; the prompt's single ``<image>``
token is expanded to ``T'*N`` image tokens (as LLaVA's processor expands it to one
image's 576) and their embeddings are replaced by the projected video tokens; the LLM
generates from those embeddings.
"""
import os
import re
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from mmstan.errors import UserError

from .branch_weights import branch_config, branch_state
from .hf_clip_weights import open_clip_from_hf
from .video_tower import STANVideoTower

#: LLaVA-1.5's conversation format with one image.
PROMPT = 'USER: <image>\n{question} ASSISTANT:'

#: An HF hub model id (``owner/name``).
HF_ID = re.compile(r'[\w.-]+/[\w.-]+')


def llava_source(name: str) -> str:
    """``name`` as given when it is a local directory or an HF id, else a one-line
    :class:`UserError` (a path that does not exist)."""
    if os.path.isdir(name) or (HF_ID.fullmatch(name) and not os.path.exists(name)):
        return name
    raise UserError(f'LLaVA model directory not found: {name}; give a local copy of an HF LLaVA '
                    '(`huggingface-cli download llava-hf/llava-1.5-7b-hf --local-dir DIR`) or its HF id')


def load_llava(name: str, dtype: torch.dtype = torch.float32) -> Tuple[nn.Module, object, object]:
    """``(LlavaForConditionalGeneration, tokenizer, image processor)`` from a local
    directory or an HF id (downloaded into the HF cache when online). Offline without a
    cached copy: one :class:`UserError` line naming what to download."""
    try:
        from transformers import AutoImageProcessor, AutoTokenizer, LlavaForConditionalGeneration
    except ImportError as err:
        raise UserError(f'video chat needs transformers ({err}); install it with '
                        '`pip install -e .[chat]` (or -r requirements/chat.txt)') from None
    source = llava_source(name)
    try:
        model = LlavaForConditionalGeneration.from_pretrained(source, torch_dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(source)
        processor = AutoImageProcessor.from_pretrained(source, use_fast=True)
    except OSError as err:
        raise UserError(
            f'LLaVA model {name!r} is not available here ({str(err).strip().splitlines()[0][:160]}); '
            f'download it where there is network: `huggingface-cli download {name} --local-dir DIR`, '
            'copy DIR here and pass --llava DIR') from None
    return model, tokenizer, processor


def load_branch(tower: STANVideoTower, branch: dict, source: str) -> None:
    """Load the branch weights (``stan.*``) into ``tower``; every branch weight must be
    given and every given weight must have a place (CLIP's weights stay LLaVA's). Position
    grids of another resolution are resampled (``CLIPSTAN._load_from_state_dict``)."""
    try:
        missing, unexpected = tower.backbone.load_state_dict(branch, strict=False)
    except RuntimeError as err:
        raise UserError(f'{source}: the STAN branch does not fit the LLaVA vision tower '
                        f'({str(err).splitlines()[-1].strip()[:160]})') from None
    missing = [k for k in missing if not k.startswith('clip.')]
    if missing or unexpected:
        raise UserError(f'{source}: STAN branch weights missing {missing[:3]}, unexpected {unexpected[:3]}')


def build_video_tower(llava: nn.Module, state: dict, source: str = 'Mug-STAN checkpoint',
                      branch_options: Optional[dict] = None, **options) -> STANVideoTower:
    """The video tower of ``llava`` (its CLIP, copied into open_clip) with the branch of
    the Mug-STAN ``state``. ``options``: :class:`STANVideoTower` choices
    (``spatial_pool``, ``temporal_pool``, ``use_branch``, ``feature_layer``); the
    feature layer and select strategy default to LLaVA's config. ``branch_options``:
    ``CLIPSTAN`` choices the weights do not show (``layer_interval``, ``last_layer``,
    ``order``, ``temporal_cls``), when the checkpoint was trained with other than the
    defaults; they override what :func:`branch_config` reads off the weights."""
    cfg = llava.config
    layer = options.pop('feature_layer', None)
    layer = cfg.vision_feature_layer if layer is None else layer
    if not isinstance(layer, int):
        raise UserError(f'LLaVA vision_feature_layer={layer!r}: STAN-LLaVA joins one layer; '
                        'use a LLaVA that reads one CLIP layer (LLaVA-1.5)')
    clip = open_clip_from_hf(cfg.vision_config, llava.vision_tower.state_dict())
    branch, _ = branch_state(state, source)
    tower = STANVideoTower(clip, {**branch_config(branch), **(branch_options or {})}, feature_layer=layer,
                           select_strategy=cfg.vision_feature_select_strategy, **options)
    load_branch(tower, branch, source)
    return tower.to(clip.visual.conv1.weight.dtype).eval()


class STANLLaVA(nn.Module):
    """LLaVA + the STAN video tower: ``chat(video, question) -> answer``.

    Args:
        llava: a ``LlavaForConditionalGeneration``.
        tower: its video tower (:func:`build_video_tower`).
        tokenizer: LLaVA's tokenizer (``<image>`` is its ``image_token_index``).
        image_processor: LLaVA's image processor (resize, crop, normalise); only
            :meth:`preprocess` uses it.
        prompt: the conversation format, with one ``<image>`` and ``{question}``.
    """

    def __init__(self, llava: nn.Module, tower: STANVideoTower, tokenizer,
                 image_processor=None, prompt: str = PROMPT):
        super().__init__()
        self.llava, self.tower = llava, tower
        self.tokenizer, self.image_processor, self.prompt = tokenizer, image_processor, prompt
        self.image_token_id = llava.config.image_token_index

    def preprocess(self, frames: Tensor) -> Tensor:
        """``[T, 3, H, W]`` uint8 frames -> ``[1, 3, T, S, S]`` as LLaVA's processor
        prepares images."""
        pixels = self.image_processor(images=list(frames), return_tensors='pt')['pixel_values']
        return pixels.transpose(0, 1)[None]

    def video_features(self, video: Tensor) -> Tensor:
        """``[1, 3, T, S, S]`` -> ``[1, T'*N, H]``: tower tokens through LLaVA's projector."""
        projector = self.llava.multi_modal_projector
        tokens = self.tower(video.to(self.tower.backbone.clip.visual.conv1.weight))
        return projector(tokens.to(next(projector.parameters())))

    def prompt_ids(self, question: str, num_tokens: int) -> Tensor:
        """``[1, S]`` token ids of the prompt, its one ``<image>`` expanded to
        ``num_tokens`` image tokens."""
        ids = self.tokenizer(self.prompt.format(question=question), return_tensors='pt').input_ids[0]
        where = (ids == self.image_token_id).nonzero().flatten().tolist()
        if len(where) != 1:
            raise UserError(f'the prompt {self.prompt!r} must hold one <image> (token '
                            f'{self.image_token_id}); it holds {len(where)}')
        i = where[0]
        image = ids.new_full((num_tokens,), self.image_token_id)
        return torch.cat([ids[:i], image, ids[i + 1:]])[None]

    def inputs_embeds(self, ids: Tensor, features: Tensor) -> Tensor:
        """``[1, S, H]``: the LLM's embeddings of ``ids`` with the image tokens' rows
        replaced, in order, by ``features [1, S_img, H]``."""
        mask = ids == self.image_token_id
        assert int(mask.sum()) == features.shape[1], (
            f'{int(mask.sum())} image tokens for {features.shape[1]} video tokens')
        embeds = self.llava.get_input_embeddings()(ids.masked_fill(mask, 0))
        return embeds.masked_scatter(mask[..., None], features.to(embeds.dtype))

    @torch.no_grad()
    def chat(self, video: Tensor, question: str, max_new_tokens: int = 256,
             **generate_kwargs) -> str:
        """One turn: ``video [1, 3, T, S, S]`` (:meth:`preprocess`) and a question -> the
        answer (greedy decoding unless ``generate_kwargs`` say otherwise)."""
        features = self.video_features(video)
        ids = self.prompt_ids(question, features.shape[1]).to(features.device)
        embeds = self.inputs_embeds(ids, features)
        generate_kwargs.setdefault('do_sample', False)
        pad = self.tokenizer.pad_token_id
        pad = self.tokenizer.eos_token_id if pad is None else pad
        out = self.llava.generate(inputs_embeds=embeds, attention_mask=torch.ones_like(ids),
                                  max_new_tokens=max_new_tokens, pad_token_id=pad, **generate_kwargs)
        return self.tokenizer.decode(out[0], skip_special_tokens=True).strip()


def build_stan_llava(llava: str, checkpoint: Optional[str], device: str = 'cpu',
                     dtype: torch.dtype = torch.float32, branch_options: Optional[dict] = None,
                     **options) -> STANLLaVA:
    """STAN-LLaVA from a LLaVA (local directory or HF id) and a Mug-STAN checkpoint
    (path or URL; read before LLaVA loads, so a missing file fails fast).
    ``checkpoint=None`` needs ``use_branch=False`` (LLaVA on frames, no branch).
    ``branch_options`` and ``options``: see :func:`build_video_tower`."""
    from mmstan.apis.checkpoint import read_checkpoint

    if checkpoint is None and options.get('use_branch', True):
        raise UserError('--checkpoint: give the Mug-STAN checkpoint (path or URL) whose STAN '
                        'branch joins LLaVA, or --no-branch for LLaVA alone')
    state = read_checkpoint(checkpoint, what='Mug-STAN checkpoint') if checkpoint else None
    model, tokenizer, processor = load_llava(llava, dtype)
    if state is None:  # the branch is off: any branch of the right shape will do
        state = random_branch_state(model)
    tower = build_video_tower(model, state, checkpoint or 'random branch', branch_options, **options)
    return STANLLaVA(model, tower, tokenizer, processor).to(device).eval()


def random_branch_state(llava: nn.Module, num_layers: int = 4) -> dict:
    """A randomly initialised ``'paper'`` branch's weights (``stan.*``) for ``llava``'s
    CLIP: the placeholder when the branch is off."""
    from mmstan.models.backbones.clip_stan import CLIPSTAN

    clip = open_clip_from_hf(llava.config.vision_config, llava.vision_tower.state_dict())
    layers = min(num_layers, llava.config.vision_config.num_hidden_layers)
    stan = CLIPSTAN(clip_model=clip, num_layers=layers)
    return {k: v for k, v in stan.state_dict().items() if k.startswith('stan.')}
