# mmstan runtime: mmaction2's own default runtime plus the plugin import.
_base_ = ['mmaction::_base_/default_runtime.py']

custom_imports = dict(imports=['mmstan'], allow_failed_imports=False)
default_scope = 'mmaction'
