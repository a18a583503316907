# Video-text retrieval data settings (papers: 12 frames, 32 tokens, 224 px). Per-dataset
# bases (msrvtt.py, msvd.py, lsmdc.py, didemo.py, webvid.py) set the files.
# Testing (and validation) decode and encode each video once (`test_pipeline`, one sample per
# video) and each caption once (`caption_pipeline`), then the model's head scores every
# caption with every video (VideoTextRetrievalValLoop / TestLoop, mmstan/engine/retrieval_loop.py).
dataset_type = 'VideoCaptionDataset'
num_frames = 12
context_length = 32
input_size = 224

train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='OpenCLIPTokenize', context_length=context_length),
    dict(type='PackActionInputs', collect_keys=('imgs', 'text')),
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len=num_frames, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, input_size)),
    dict(type='CenterCrop', crop_size=input_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', )),
]
caption_pipeline = [
    dict(type='OpenCLIPTokenize', context_length=context_length),
    dict(type='PackActionInputs', collect_keys=('text', )),
]
train_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, pipeline=train_pipeline, data_prefix=dict(video='videos')))
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, pipeline=test_pipeline, caption_pipeline=caption_pipeline,
                 data_prefix=dict(video='videos'), test_mode=True))
test_dataloader = val_dataloader
# QB-Norm (post_process='qb_norm') also needs a query bank of training captions on the test
# dataset, e.g. test_dataloader = dict(dataset=dict(query_bank=dict(ann_file='train.json'))).
val_evaluator = dict(type='TextVideoRetrievalMetric')
test_evaluator = val_evaluator
val_cfg = dict(type='VideoTextRetrievalValLoop')
test_cfg = dict(type='VideoTextRetrievalTestLoop')
