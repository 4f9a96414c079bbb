"""The data shipped with Stepformer: trained presets (presets/) and lessons (lessons/).

In the repository this is the top-level assets/ folder; installed, it is the package
`stepformer_assets` (setup.py maps the one to the other), so `simulator.shipped` finds it
with importlib.resources from any working directory, editable install or wheel alike.
"""
