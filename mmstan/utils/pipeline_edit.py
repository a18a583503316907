"""Edit an inherited data pipeline in a config, e.g. another frame count.

mmengine configs cannot re-evaluate a base's pipeline with a leaf's variables, so a leaf
that changes one step imports these (after its ``_base_`` line, which keeps the file an
ordinary mmengine config)::

    _base_ = ['./k400.py']
    from mmstan.utils.pipeline_edit import with_step_args  # noqa: E402
    train_pipeline = with_step_args(_base_.train_pipeline, 'UniformSample', clip_len=16)
"""
from typing import List, Sequence, Tuple


def with_step_args(pipeline: Sequence[dict], step_type: str, **changes) -> List[dict]:
    """A copy of ``pipeline`` with ``changes`` set on every step of type ``step_type``."""
    if not any(step['type'] == step_type for step in pipeline):
        raise ValueError(f'the pipeline has no {step_type!r} step: '
                         f'{[step["type"] for step in pipeline]}')
    return [dict(step, **changes) if step['type'] == step_type else dict(step)
            for step in pipeline]


def without_steps(pipeline: Sequence[dict], *step_types: str) -> List[dict]:
    """A copy of ``pipeline`` without the steps of the given types."""
    return [dict(step) for step in pipeline if step['type'] not in step_types]


def loaders_with_steps_args(base, step_type: str, splits: Sequence[str] = ('train', 'val', 'test'),
                            **changes) -> Tuple[dict, ...]:
    """``<split>_dataloader`` overrides, one per split, whose pipelines are the base's
    ``<split>_pipeline`` with ``changes`` set on the ``step_type`` steps::

        train_dataloader, val_dataloader, test_dataloader = loaders_with_steps_args(
            _base_, 'UniformSample', clip_len=16)
    """
    return tuple(dict(dataset=dict(pipeline=with_step_args(base[f'{split}_pipeline'], step_type,
                                                           **changes)))
                 for split in splits)
