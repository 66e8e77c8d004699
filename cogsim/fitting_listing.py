"""What ``cogsim fit --list`` prints: each paradigm's columns and models, from a paradigm registry."""

from __future__ import annotations

from cogsim.fit._paradigm import pattern_key


def list_text(reg) -> str:
    """Each paradigm of ``reg`` (``names()``, ``get(name)``) with its columns and models (their parameters
    with bounds)."""
    lines = [
        "(--models NAME[param=value,...] holds parameters fixed, e.g. 'mixture3p[p_swap=0]'; "
        "NAME[param=shared] gives a per-set-size model's parameter one value across set sizes, "
        "e.g. 'mixture2p[sd_rad=shared]'; each parameter's bounds in brackets, over which --prior "
        "PARAM=FAMILY(ARGS) must be positive)"
    ]
    for name in reg.names():
        par = reg.get(name)
        lines.append(f"{name}: {getattr(par, 'doc', '')}".rstrip(": "))
        for col in par.columns:
            tag = "required" if col.required else "optional"
            lines.append(f"  column {col.name:<18} {tag:<9} {col.allowed()}  {col.doc}".rstrip())
        for pattern in par.pattern_columns:
            lines.append(
                f"  columns {pattern:<17} optional  numbered from 1 (trial array {pattern_key(pattern)!r})"
            )
        for mname, model in par.models.items():
            extra = f"; needs {', '.join(model.requires)}" if getattr(model, "requires", ()) else ""
            per = " per set size" if getattr(model, "by_set_size", False) else ""
            per += f"; set sizes 1-{model.max_set_size}" if getattr(model, "max_set_size", None) else ""
            params = ", ".join(f"{p.name} ({p.low:g}, {p.high:g})" for p in model.params)
            lines.append(f"  model  {mname:<18} {params}{per}{extra}")
    return "\n".join(lines)
