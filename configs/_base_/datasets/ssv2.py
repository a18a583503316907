# Something-Something V2 in mmaction2's layout (see README "Datasets"): 174 classes.
_base_ = ['./video_recognition.py']

data_root = 'data/sthv2'
num_classes = 174

# SSv2 has left/right classes: no horizontal flip.
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='UniformSample', clip_len={{_base_.num_frames}}),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop', area_range=(0.4, 1.0)),
    dict(type='Resize', scale=({{_base_.input_size}}, {{_base_.input_size}}), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='sthv2_train_list_videos.txt', data_prefix=dict(video='videos'),
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='sthv2_val_list_videos.txt', data_prefix=dict(video='videos')))
test_dataloader = dict(dataset=dict(
    data_root=data_root, ann_file='sthv2_val_list_videos.txt', data_prefix=dict(video='videos')))
