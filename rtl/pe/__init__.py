"""One RTL module per PE family, named by the family key (``qaccel.rtl.pe.<family>``).

Each provides ``create(params)`` (the array top), ``create_core(params)``,
``core_spec(params)``, ``tile_streams(params, tile)`` and ``tile_result(params, tile, rows)``;
see docs/rtl.md "Adding a family". Found through ``qaccel.arch.pe.level_module(family, "rtl")``.
"""
