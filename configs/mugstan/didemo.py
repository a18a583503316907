# Mug-STAN-B/32 retrieval on DiDeMo (Mug alignment, 64 frames / 64 tokens).
_base_ = ['../stan/didemo.py']
model = dict(head=dict(type='MugHead', mode='mug'))
val_evaluator = dict(head=dict(type='MugHead', mode='mug'))
test_evaluator = val_evaluator
