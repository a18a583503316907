# Demo: Mug-STAN retrieval (VideoTextRetriever, CLIPSTAN K=2, Mug head, tiny random-init CLIP), 8 frames, batch 32, synthetic motion captions; no paper row.
# Mug reads the caption's tokens without [SOT] (drop_sot=True; the official head and the
# mugstan configs keep it). Under the causal text mask [SOT]'s output is the same vector
# for every caption; from random init, on some seeds (0 here) it starts closest to the
# frames, the first steps move the nearly hard (tau = 100) token softmax onto it for every
# pair, the scores then stop depending on the caption and training stays at 2 ln B
# (issue 16, defect 4; measured in docs/get_started.md, "Known limitations").
_base_ = [
    '../_base_/default_runtime.py', '../_base_/models/tiny_clip.py',
    '../_base_/models/clip_preprocessors.py'
]
data_root = 'data/synthetic_motion'
context_length = 16

model = dict(
    type='VideoTextRetriever',
    clip=dict(arch={{_base_.tiny_clip_arch}}),
    backbone=dict(type='CLIPSTAN', input_resolution=32, num_frames=8, num_layers=2,
                  drop_path_rate=0.0, temporal_pos_std=1.0),
    head=dict(type='MugHead', mode='mug', embed_dim=64, drop_sot=True),
    logit_scale=20.0,
    data_preprocessor={{_base_.retrieval_preprocessor}})

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=8),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),  # no-op on the synthetic clips
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='OpenCLIPTokenize', context_length=context_length),
    dict(type='PackActionInputs', collect_keys=('imgs', 'text')),
]
val_pipeline = [  # one sample per video: each decoded and encoded once
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=8, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),  # no-op on the synthetic clips
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', )),
]
caption_pipeline = [  # each caption tokenized and encoded once
    dict(type='OpenCLIPTokenize', context_length=context_length),
    dict(type='PackActionInputs', collect_keys=('text', )),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoCaptionDataset', data_root=data_root, ann_file='train_captions.json',
                 data_prefix=dict(video='videos'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoCaptionDataset', data_root=data_root, ann_file='val_captions.json',
                 data_prefix=dict(video='videos'), pipeline=val_pipeline,
                 caption_pipeline=caption_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextVideoRetrievalMetric')  # ranks the scores of the model's head
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6, val_interval=1)
val_cfg = dict(type='VideoTextRetrievalValLoop')
test_cfg = dict(type='VideoTextRetrievalTestLoop')
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), weight_decay=0.02),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=5, eta_min=1e-5, by_epoch=True, begin=1, end=6,
         convert_to_iter_based=True),
]
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='retrieval/t2v/R1', rule='greater'),
    logger=dict(interval=20))
randomness = dict(seed=0)
