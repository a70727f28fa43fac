"""The session resolution rule (seed #3): which session each agent really runs, from plain data. Pure.

In this order, per agent:

(a) ``live``: the live-session file of a process in the agent's pane tree, whose pid AND
    ``procStart`` match that process (a reused pid is another process); the shallowest wins.
(b) ``bound``: the ids the cockpit bound itself, newest first, whose transcript exists in the
    agent's config dir (the newest one also while its freshly spawned process has written
    neither a live file nor a turn yet); never one that runs in another agent or outside the fleet.
(c) ``newest``: the newest transcript (by its last record's time) of the agent's cwd that nobody
    else owns. When another undecided agent could claim the same transcripts, the answer is
    ``ambiguous`` and nothing is picked: peers that guessed here hijacked sessions.

Indexed by folder, pid and session id, so a tick costs what each agent can see, not
agents × transcripts (seed #8: 500 agents must stay cheap). The observer gathers the facts
(``cockpit.observe.sessions``) and hands them to :func:`resolve_sessions`.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from cockpit.observe.sessions import EVIDENCE_LIST, AgentFacts, LiveSession, Resolution, TranscriptFacts

__all__ = ["resolve_sessions"]


def _claimable(a: AgentFacts, t: TranscriptFacts) -> bool:
    return t.cwd is not None and t.cwd in a.cwds and not t.sidechain


class _Rule:
    """One resolution: the indexes, then (a), (b), (c) in turn, then one Resolution per agent."""

    def __init__(self, agents: Sequence[AgentFacts], live: Iterable[LiveSession],
                 transcripts: Iterable[TranscriptFacts]) -> None:
        self.agents = list(agents)
        self.live = list(live)
        self.by_key: dict[tuple[int, int], list[LiveSession]] = {}
        self.by_pid: dict[int, list[LiveSession]] = {}
        for l in self.live:
            if l.proc_start is not None:
                self.by_key.setdefault((l.pid, l.proc_start), []).append(l)
            self.by_pid.setdefault(l.pid, []).append(l)
        by_folder: dict[str, list[TranscriptFacts]] = {}
        for t in transcripts:
            if t.folder is not None:
                by_folder.setdefault(t.folder, []).append(t)
        self.keys = {a.name: {(p.pid, p.start): p.depth for p in a.tree} for a in self.agents}
        fleet_keys = {k for ks in self.keys.values() for k in ks}
        fleet_pids = {pid for pid, _ in fleet_keys}
        # A live claude outside every pane tree is a foreigner: its session never wins (peers hijacked those).
        self.foreign = {l.session_id: l for l in self.live
                        if l.alive and (l.pid, l.proc_start) not in fleet_keys and l.pid not in fleet_pids}
        self.dead_by_cwd: dict[str | None, list[LiveSession]] = {}
        for l in self.live:
            if not l.alive:
                self.dead_by_cwd.setdefault(l.cwd, []).append(l)
        self.views = {a.name: self._visible(a, by_folder) for a in self.agents}
        self.existing = {name: {t.session_id: t for t in ts} for name, ts in self.views.items()}
        self.evidence: dict[str, dict[str, Any]] = {a.name: {} for a in self.agents}

    @staticmethod
    def _visible(a: AgentFacts, by_folder: dict[str, list[TranscriptFacts]]) -> list[TranscriptFacts]:
        """The transcripts in the agent's folders (of its kind)."""
        seen = [t for f in dict.fromkeys(a.folders) for t in by_folder.get(f, ())]
        return [t for t in seen if t.kind == a.kind] if a.has_transcripts else seen

    def live_choices(self) -> dict[str, LiveSession]:
        """(a) the live file of a process in the pane tree (pid AND procStart), the shallowest first."""
        chosen: dict[str, LiveSession] = {}
        for a in self.agents:
            mine = sorted(((p.depth, p.pid, l) for p in a.tree for l in self.by_key.get((p.pid, p.start), ())),
                          key=lambda x: (x[0], x[1]))
            ev = self.evidence[a.name]
            if mine:
                chosen[a.name] = mine[0][2]
                ev["live"] = mine[0][2].to_json()
                if len(mine) > 1:
                    ev["other_live_in_tree"] = [m[2].to_json() for m in mine[1:EVIDENCE_LIST]]
            reused = [l.to_json() for p in a.tree for l in self.by_pid.get(p.pid, ())
                      if l.proc_start is not None and (l.pid, l.proc_start) not in self.keys[a.name]]
            if reused:
                ev["pid_reused"] = reused[:EVIDENCE_LIST]  # a pid match with another procStart: ignored
        return chosen

    def bound_choices(self, live_choice: dict[str, LiveSession]) -> dict[str, str]:
        """(b) the ids cockpit bound, newest first, with a transcript here; never one that runs elsewhere."""
        live_owner: dict[str, list[str]] = {}
        for name, l in live_choice.items():
            live_owner.setdefault(l.session_id, []).append(name)
        chosen: dict[str, str] = {}
        for a in self.agents:
            if a.name in live_choice:
                continue
            skipped: dict[str, str] = {}
            for i, sid in enumerate(reversed(a.bound)):
                others = [o for o in live_owner.get(sid, []) if o != a.name]
                if others:
                    skipped[sid] = f"runs in agent {others[0]}"
                elif sid in self.foreign:
                    skipped[sid] = f"runs in pid {self.foreign[sid].pid} outside the fleet"
                elif a.has_transcripts and sid not in self.existing[a.name] and not (i == 0 and a.tree):
                    skipped[sid] = "no transcript in the agent's config dir"
                else:
                    if a.has_transcripts and sid not in self.existing[a.name]:
                        # The running process was just spawned with this id: no live file, no turn on disk yet.
                        self.evidence[a.name]["pending"] = ("spawned with this id; no live-session file or "
                                                            "transcript yet")
                    chosen[a.name] = sid
                    break
            if skipped:
                self.evidence[a.name]["bound_skipped"] = dict(list(skipped.items())[:EVIDENCE_LIST])
        return chosen

    def candidates(self, decided: dict[str, tuple[str, str]]) -> dict[str, list[TranscriptFacts]]:
        """(c) each undecided agent's unowned transcripts of its cwd, the newest first."""
        owner: dict[str, str] = {sid: name for name, (sid, _) in decided.items()}
        for a in self.agents:
            for sid in a.bound:
                owner.setdefault(sid, a.name)
        out: dict[str, list[TranscriptFacts]] = {}
        for a in self.undecided(decided):
            mine_cwd = [t for t in self.views[a.name] if _claimable(a, t)]
            cands = [t for t in mine_cwd if t.last_at is not None and t.session_id not in self.foreign
                     and owner.get(t.session_id, a.name) == a.name]
            cands.sort(key=lambda t: (t.last_at, t.session_id), reverse=True)
            out[a.name] = cands
            ev = self.evidence[a.name]
            owned_here = sorted({owner[t.session_id] for t in mine_cwd if owner.get(t.session_id, a.name) != a.name})
            if owned_here:
                ev["owned_by_others"] = owned_here[:EVIDENCE_LIST]
            foreign_here = [self.foreign[t.session_id].to_json() for t in mine_cwd if t.session_id in self.foreign]
            if foreign_here:
                ev["foreign_live"] = foreign_here[:EVIDENCE_LIST]
        return out

    def undecided(self, decided: dict[str, tuple[str, str]]) -> list[AgentFacts]:
        return [a for a in self.agents if a.name not in decided and a.has_transcripts]

    def common_evidence(self, a: AgentFacts) -> dict[str, Any]:
        ev = self.evidence[a.name]
        if a.bound:
            ev["bound"] = list(reversed(a.bound))[:EVIDENCE_LIST]
        dead_here = [l.to_json() for c in a.cwds for l in self.dead_by_cwd.get(c, ())]
        if dead_here:  # left behind by a killed process: neither live truth nor foreign
            ev["dead_live_files"] = dead_here[:EVIDENCE_LIST]
        return ev

    def newest(self, a: AgentFacts, cands: list[TranscriptFacts], ev: dict[str, Any],
               undecided_by_folder: dict[str, list[AgentFacts]]) -> Resolution:
        """(c) for one agent: the newest candidate, unless another undecided agent could claim one."""
        cand_ids = tuple(t.session_id for t in cands[:EVIDENCE_LIST])
        if not cands:
            return Resolution(a.name, None, None, False, (), ev)
        near = {b.name: b for f in dict.fromkeys(a.folders) for b in undecided_by_folder.get(f, ()) if b is not a}
        rivals = sorted(name for name, b in near.items()
                        if any(t.folder in b.folders and _claimable(b, t) for t in cands))
        if rivals:
            ev["rivals"] = rivals
            ev["candidates_last_at"] = {t.session_id: t.last_at for t in cands[:EVIDENCE_LIST]}
            return Resolution(a.name, None, None, True, cand_ids, ev)
        return Resolution(a.name, cands[0].session_id, "newest", False, cand_ids, ev, None, cands[0])


def resolve_sessions(agents: Sequence[AgentFacts], live: Iterable[LiveSession],
                     transcripts: Iterable[TranscriptFacts]) -> dict[str, Resolution]:
    """Each agent's disk truth from plain data; see the module docstring for the order. Pure."""
    rule = _Rule(agents, live, transcripts)
    live_choice = rule.live_choices()
    bound_choice = rule.bound_choices(live_choice)
    decided: dict[str, tuple[str, str]] = {n: (l.session_id, "live") for n, l in live_choice.items()}
    decided.update({n: (sid, "bound") for n, sid in bound_choice.items()})
    holders: dict[str, list[str]] = {}
    for name, (sid, _) in decided.items():
        holders.setdefault(sid, []).append(name)
    merged = {n for names in holders.values() if len(names) > 1 for n in names}
    candidates = rule.candidates(decided)
    undecided_by_folder: dict[str, list[AgentFacts]] = {}
    for a in rule.undecided(decided):
        for f in dict.fromkeys(a.folders):
            undecided_by_folder.setdefault(f, []).append(a)
    out: dict[str, Resolution] = {}
    for a in rule.agents:
        ev = rule.common_evidence(a)
        if a.name not in decided:
            out[a.name] = rule.newest(a, candidates.get(a.name, []), ev, undecided_by_folder)
        elif a.name in merged:  # two agents hold one session at once: neither gets it
            sid = decided[a.name][0]
            ev["also_claimed_by"] = [n for n in holders[sid] if n != a.name]
            out[a.name] = Resolution(a.name, None, None, True, (sid,), ev, live_choice.get(a.name))
        else:
            sid, source = decided[a.name]
            out[a.name] = Resolution(a.name, sid, source, False, (sid,), ev, live_choice.get(a.name),
                                     rule.existing[a.name].get(sid))
    return out
