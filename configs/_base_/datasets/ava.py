# AVA v2.2 in mmaction2's layout (see README "AVA"): 15-minute clips as raw frames at 30 fps
# (data/ava/rawframes/<video_id>/img_00001.jpg), the official annotations and FAIR's person
# proposals under data/ava/annotations/, 80 actions + background.
dataset_type = 'AVADataset'
data_root = 'data/ava/rawframes'
anno_root = 'data/ava/annotations'

ann_file_train = f'{anno_root}/ava_train_v2.2.csv'
ann_file_val = f'{anno_root}/ava_val_v2.2.csv'
exclude_file_train = f'{anno_root}/ava_train_excluded_timestamps_v2.2.csv'
exclude_file_val = f'{anno_root}/ava_val_excluded_timestamps_v2.2.csv'
label_file = f'{anno_root}/ava_action_list_v2.2_for_activitynet_2019.pbtxt'
proposal_file_train = f'{anno_root}/ava_dense_proposals_train.FAIR.recall_93.9.pkl'
proposal_file_val = f'{anno_root}/ava_dense_proposals_val.FAIR.recall_93.9.pkl'

# [M] §IV-B: "a frame span of 300, which aligns with the default frame number of Kinetics
# videos": 8 frames around the key frame, one every 37 frames (8 x 37 = 296, the closest
# integer stride to 300 / 8), the temporal density the K400 model was trained at.
num_frames = 8
frame_interval = 37
# CLIPSTAN's position grids are square, so frames are resized to 256x256 (the AVA crop) in
# both splits; training adds scale jitter and random crops on top, as mmaction2's AVA recipes.
input_size = 256

train_pipeline = [
    dict(type='SampleAVAFrames', clip_len=num_frames, frame_interval=frame_interval),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomRescale', scale_range=(input_size, 320)),
    dict(type='RandomCrop', size=input_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]
# testing: whole frames, no crop or flip
val_pipeline = [
    dict(type='SampleAVAFrames', clip_len=num_frames, frame_interval=frame_interval,
         test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW', collapse=True),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, ann_file=ann_file_train, exclude_file=exclude_file_train,
        label_file=label_file, proposal_file=proposal_file_train,
        data_prefix=dict(img=data_root), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,  # AVARoIHead predicts one clip at a time
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, ann_file=ann_file_val, exclude_file=exclude_file_val,
        label_file=label_file, proposal_file=proposal_file_val,
        data_prefix=dict(img=data_root), pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

# mmstan's WorkDirAVAMetric (mmaction2's AVAMetric, same arguments) writes its AVA-format
# result csv into the work dir; the test run keeps it (the detections, ready for the
# official evaluator).
val_evaluator = dict(type='WorkDirAVAMetric', ann_file=ann_file_val, label_file=label_file,
                     exclude_file=exclude_file_val)
test_evaluator = dict(val_evaluator, keep_results=True)
