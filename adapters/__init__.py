"""Backend adapters: one package per backend, each speaking its vendor's protocol and mapping
to and from `contracts`. Adapters never import `app`, nor each other; `_`-prefixed packages
are shared support (demo data, HTTP plumbing), not backends."""
