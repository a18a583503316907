"""The config's own test-time pipelines, as ``tools/test.py`` runs them: a video through
the test dataset's pipeline (its frames, crops and views), a caption through its
``caption_pipeline`` (the tokenizer the retrieval test loop uses)."""
from typing import List

from mmengine.config import Config

from mmstan.errors import UserError

#: Pipeline steps that deal with captions, dropped from the video pipeline.
TEXT_STEPS = ('OpenCLIPTokenize',)


def step_type(step: dict) -> str:
    return str(step['type']).split('.')[-1]


def inference_pipeline(cfg: Config) -> List[dict]:
    """The pipeline the config tests with: the test dataset's (which leaf configs edit,
    e.g. the frame count), else a top-level ``test_pipeline``."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise UserError(f'{cfg.filename} has no test pipeline (test_dataloader.dataset.pipeline)')
    return [dict(step) for step in pipeline]


def video_pipeline(cfg: Config) -> List[dict]:
    """The test pipeline without its caption steps, packing only ``imgs``: one video ->
    the input of a retriever's ``encode_video``."""
    steps = []
    for step in inference_pipeline(cfg):
        if step_type(step) in TEXT_STEPS:
            continue
        if step_type(step) == 'PackActionInputs':
            step['collect_keys'] = ('imgs',)
        steps.append(step)
    if not any(step_type(s) == 'PackActionInputs' for s in steps):
        raise UserError(f'{cfg.filename}: the test pipeline has no PackActionInputs step; '
                        'use a retrieval config (configs/mugstan/*.py, configs/stan/msrvtt.py, ...)')
    return steps


def caption_pipeline(cfg: Config, default_length: int) -> List[dict]:
    """The test dataset's ``caption_pipeline`` (else a top-level one): one caption -> the
    token ids of a retriever's ``encode_text``. A config without one tokenizes as its
    test pipeline's ``OpenCLIPTokenize`` does, else to ``default_length`` tokens."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    pipeline = dataset.get('caption_pipeline') or cfg.get('caption_pipeline')
    if pipeline:
        return [dict(step) for step in pipeline]
    length = default_length
    for step in cfg.get('test_pipeline') or dataset.get('pipeline') or []:
        if step_type(step) == 'OpenCLIPTokenize':
            length = int(step.get('context_length', default_length))
    return [dict(type='OpenCLIPTokenize', context_length=length),
            dict(type='PackActionInputs', collect_keys=('text',))]
