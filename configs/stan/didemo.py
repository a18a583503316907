# STAN-B/32 retrieval on DiDeMo: all descriptions of a video concatenated into one
# paragraph query, 64 frames and 64 tokens, gradient checkpointing (paper R@1 46.2).
_base_ = [
    '../_base_/models/stan_retrieval_b32.py',
    '../_base_/datasets/retrieval.py', '../_base_/schedules/adamw_cosine_retrieval.py'
]
data_root = 'data/didemo'
num_frames = 64
context_length = 64


def _with(pipeline):
    steps = []
    for step in pipeline:
        if step['type'] == 'UniformSample':
            step = dict(step, clip_len=num_frames)
        elif step['type'] == 'OpenCLIPTokenize':
            step = dict(step, context_length=context_length)
        steps.append(step)
    return steps


model = dict(backbone=dict(num_frames=num_frames, grad_checkpointing=True))
train_dataloader = dict(batch_size=8, dataset=dict(
    data_root=data_root, ann_file='train.json', concat_captions=True,
    pipeline=_with(_base_.train_pipeline)))
val_dataloader = dict(batch_size=8, dataset=dict(
    data_root=data_root, ann_file='test.json', concat_captions=True,
    pipeline=_with(_base_.test_pipeline)))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextVideoRetrievalMetric', head={{_base_.model.head}})
test_evaluator = val_evaluator
# global batch 128 = 16 GPUs x 8 for 64 frames
auto_scale_lr = dict(base_batch_size=128)
