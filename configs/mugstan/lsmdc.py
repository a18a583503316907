# Mug-STAN-B/32 retrieval on lsmdc: the STAN recipe with Mug alignment (eqs. 11-18).
_base_ = ['../stan/lsmdc.py']
model = dict(head=dict(type='MugHead', mode='mug'))
val_evaluator = dict(head=dict(type='MugHead', mode='mug'))
test_evaluator = val_evaluator
