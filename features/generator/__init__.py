"""The synthetic Kota Pontianak export generator (`kompetensi generate`) and its causal model.

`generate_export(out, employees, years, seed, exported_on, world)` writes every table of DATA_CONTRACT.md
as CSV, `export.json`, and the ground truth `truth/levels.csv`, `truth/effects.csv`, `truth/completion.csv`
and `truth/world.json` (the world's name and parameters; the export itself never shows it). Same
arguments, same bytes. The model below is what the truth files are the expectations of. It is the *default world*, the demo world
(`kompetensi generate` without `--world`, `make run`, the golden tests): every mechanism of "A family of
worlds" at the end is off in it, and it draws exactly what the generator drew before worlds existed.

Causal model (time step: one month; month T holds the export date, the as-of date A)
-----------------------------------------------------------------------------------
People and posts. Real OPDs, RSUD, 23 puskesmas, 6 kecamatan with their 29 kelurahan and SD/SMP Negeri;
about 45% teachers and 20% health workers. Every person has a post (position type, job family, 9 core
and 1–3 technical competencies in its SKJ), a TMT, a birth date, PNS or PPPK. People reaching the
retirement age (BUP) leave with status pensiun, some move away (pindah), are on leave (cuti) or study
leave (tugas_belajar); yearly CPNS and PPPK cohorts join. Some were promoted inside the history.

Latent traits per person: general ability g, openness to change o, a performance trait; all N(0, 1),
independent of each other and of sex and age. Per competency a residual that shares a factor with related
competencies (interpersonal, leadership, technical clusters).

True level. L = S + N for every (person, competency), with
- S, the systematic part, in [1.3, 4.7]. Each month S moves a share r = 0.03·exp(0.25·o) of the way to
  its attractor A = clip(base + position level + tenure(years of service) + B, 1.3, 4.7), where base
  holds the competency offset, 0.3·g, the cluster factor and the residual (and 0.15·o for Mengelola
  Perubahan), tenure rises to +0.5 with a 10-year time constant, and B is the sum of lasting training
  boosts. Then S gets a permanent shock, uniform with half-width min(0.05, distance to the bounds).
- N, a transient part: N' = 0.85·N + uniform shock with half-width min(0.12, 0.3 − 0.85·|N|), so |N| ≤ 0.3.
Both shocks are symmetric with a width known before the draw, so they have mean zero; the step is
linear in S and N; hence E[L(T+H) | state at T] = S stepped H times with the shocks at zero, plus
0.85^H · N(T). L stays in [1, 5] without clipping, and nothing pushes it past 5.
New hires start 0.45 below their attractor; people employed when the history starts, nearer to it.

Training effect. Completing training t shifts S and B (so the shift lasts) for each competency c that t
targets, by base(JP) · format · quality_t · weight_tc · band · openness, where base(JP) = 0.6·(1 − e^(−JP/45)),
format is coaching 1.5, mentoring 1.35, blended 1.15, magang 1.1, klasikal 1.0, workshop 0.85, e-learning
0.6, seminar 0.35; quality is a fixed property of each course (not exported); band is 1 when the true
level at completion is in [min_level, max_level + 1), 1 − 0.6·(distance below min_level) below it (0 at
≥ 1.67 below) and 0.05 above it; openness is exp(0.3·o − 0.045). The shifts of one month are summed and
capped at 0.9 of the distance from S to 4.7. They arrive at the start of the month after completion.
A course not completed has no effect; P(complete) = sigmoid(format logit + 0.9·o).

Selection into training (confounded). Each month an employee starts a course with hazard
0.12·exp(0.45·o + 0.35·unit budget + 0.25·last SKP + 0.6·mean observed gap), where the observed gap
uses the last *assessed* (noisy) level of each required competency. The course is drawn among the
eligible ones with weight popularity · exp(1.6 · Σ target weight × observed gap) · (0.05 if it targets
nothing the post requires) · exp(−cost / (15 M · exp(budget))). People measured low are sent more, so
naive before/after comparisons suffer regression to the mean; open people are sent more and gain more.
New PNS start Latsar CPNS 1–5 months after TMT, most new PPPK the PPPK orientation.

Measurement. An assessment is L + bias + sd·z, rounded to 2 decimals, clipped to [1, 5]: assessment
centre (bias 0, sd 0.25), uji kompetensi (0, 0.35), CAT (0, 0.45), penilaian 360 (+0.2, 0.55).
Schedules depend on units, posts and dates only: assessment-centre waves per OPD every 24–36 months on
the nine core competencies, CAT mapping of technical competencies every two years, yearly 360 in some
OPDs and in schools, uji kompetensi before promotions and for some functional career steps, CAT for
60% of new hires.

SKP. Each December a work-result score 0.45·g + 0.3·o + 0.7·mean(L − required) + 0.5·trait + noise and
a behaviour score are ranked within the unit (within the OPD for units rating fewer than 10): the top
20% of results and 30% of behaviours are above expectation, very low scores below; the predicate
follows `features.constants.skp_rating`.

Truth (as of A = exported_on, horizon H = 12 months, active employees). expected_level_no_plan =
E[L(T+12)] with the trainings completed on or before A (those berjalan do not count). expected_gain of an
eligible training t = total gap without plan − total gap with t completed just after A (it joins the
shifts of month T, its band judged on the true level at A), gaps over the post's required competencies.
truth/completion.csv (nip, training_id, completion_probability; the same pairs as truth/effects.csv) =
the P(complete) of the course if the employee enrolled just after A, by the formula above with the
world's terms (responsiveness, reluctance); leaving the service mid-course is not in it. Written in every
world (it adds a file to truth/ and changes none of the others).

A family of worlds (`worlds.py`)
--------------------------------
A `World` switches structural mechanisms on with a strength; `NAMED_WORLDS` holds the named ones
(default, transfer, spacing, decay, ceiling, quality_spread, format_reversed, responders, no_selection,
hidden_selection, lenient_raters, noisy, messy, kitchen_sink, reluctance) and `random:SEED` draws
mechanisms and strengths from a seed (reluctance is not among them: the draws recorded before it stay the
same). Each world's own draws (responsiveness, course quality, raters, mess, reluctance) come from
streams of their own, so switching a mechanism on reshuffles no other draw (the history still diverges
through the levels it changes). In every world the truth stays the exact
expectation: the noise stays symmetric and linear, and what a world adds is a deterministic function of
the state at A, so `truth.py` computes it in closed form with the same functions, never by Monte Carlo.
- Format effects and completion. The format factors and completion logits are parameters (e.g.
  format_reversed: seminars and e-learning best, coaching worst); the truth uses the world's factors.
- Course quality spread. quality × exp(σz − σ²/2), z per course: formats say less about courses. The
  truth uses each course's drawn quality.
- Transfer to the job. Each course has a subject domain, never exported: the home job family of its main
  target when that is technical (the family whose posts require it most), none when it is a core one. A
  course of another family keeps 1 − transfer of its effect, a generic one 1 − transfer·transfer_generic.
  The truth applies the same factor from the course's domain and the employee's job family.
- Spacing. A course's effect on competency c is × 1 − spacing·exp(−d / (months·30.4)), d the days since the
  last completed course targeting c (earlier days; completions are taken in day order). The truth uses
  the last completion on or before A, the plan's course completing just after A.
- Decay. A share of each gain (by format) goes into a fading part F instead of S and B; F shrinks by
  0.5^(1/half-life) a month, L = S + F + N, the month's cap applies to S + F, and S's attractor and
  shocks are bounded by S_MAX − F (so L ≤ 5 still). F's path is deterministic, so E[L(T+H)] is S stepped
  with the bound S_MAX − F_k, plus F decayed H months, plus 0.85^H·N — exact.
- Ceiling. Gains are × 1 − ceiling·((L − start)/(5 − start))² above `start`, L the true level at completion
  (at A for the truth).
- Responsiveness. A latent multiplier R = exp(σz − σ²/2), × nonresponder_factor for a share of people,
  scales every gain of a person; log R also moves the completion logit (low responders abandon more)
  and the SKP work-result score, and shows in their past gains. The truth multiplies the plan's effect by R.
- Selection. The hazard and choice loadings on openness and on the assessed gaps are parameters (none in
  no_selection); hidden_selection adds the unobservables: the true gap and log R in the hazard, and
  Σ weight × true gap × R × take-up in the choice. Selection changes who is sent, never the truth's formula.
- Measurement. Method biases and sds are parameters; rater leniency adds an OPD-level bias N(0, sd²) to
  penilaian 360 and uji kompetensi. The truth is of the true level, so it does not move.
- Noise. level_noise scales the half-widths of the shocks of S and N (still symmetric: exact truth).
- Reluctance. A persistent trait ρ = max(0, z) per person, z ~ N(0, 1) with a share of its variance common
  to the unit (the unit's learning culture), from the world's own stream: the completion logit falls by
  reluctance · ρ and the monthly hazard of starting a course is × exp(−reluctance_on_enrolment · ρ) (the
  scheduled Latsar and orientation are not). Half the people are not reluctant at all; the others enrol
  less and abandon more, so `tidak_selesai` rises. Gains of a completed course do not change: the truth's
  expected gains assume completion and stay the same to the bit; truth/completion.csv carries −reluctance · ρ.
- Messy records (`messy.py`): missing SKP years and post-tests, dates on abandoned courses, rounded and
  re-entered assessments, CRLF, quoting, BOM, padding — all accepted by the contract, applied when the
  files are written, so the truth is that of the same world without mess.
"""

from __future__ import annotations

from features.generator.core import GenerateSummary, Simulation, generate_export, simulate_export
from features.generator.worlds import NAMED_WORLDS, World, random_world, world_from_spec

__all__ = ["NAMED_WORLDS", "GenerateSummary", "Simulation", "World", "generate_export", "random_world",
           "simulate_export", "world_from_spec"]
