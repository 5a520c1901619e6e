package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// CalibrateParams steer a capacity ramp against one worker.
type CalibrateParams struct {
	Scenario      Scenario // server, secret and admin key; rooms etc. are ignored
	Publishers    int
	Step          int // listeners added per step
	MaxListeners  int
	Window        time.Duration
	MaxLoss       float64 // stop above this loss ratio (0.005 = 0.5%)
	MaxCPU        float64 // stop above this share of one core (0.8)
	MaxLatencyP99 time.Duration
	Margin        float64 // safety margin taken off the last good load (0.2)
	// RoomListeners, when set, caps a room's listeners: the ramp then opens
	// another room (with its own publishers) on the same worker. A worker's
	// capacity is the same either way, and rooms of a few hundred avoid timing
	// the signalling of one huge room (every join is announced to every peer).
	RoomListeners int
}

// CalibrateStep is one measured step of the ramp.
type CalibrateStep struct {
	Listeners int     `json:"listeners"`
	LoadUnits int     `json:"load_units"`
	WorkerCPU float64 `json:"worker_cpu_ratio"`
	Report    Report  `json:"report"`
}

// CalibrateResult is the outcome of a ramp.
type CalibrateResult struct {
	Worker                int             `json:"worker"`
	Steps                 []CalibrateStep `json:"steps"`
	StopReason            string          `json:"stop_reason"`
	CapacityUnits         int             `json:"capacity_units"`
	RecommendedMaxConsume int             `json:"recommended_max_consumers"`
	// CPUMicrosAtCapacity is the worker's CPU per forwarded packet at the last
	// good step. A lightly loaded worker pays its per-peer background and its
	// wake-ups over few packets; near capacity they spread over many, so this is
	// the figure to size hosts with.
	CPUMicrosAtCapacity float64 `json:"cpu_us_per_forwarded_packet_at_capacity"`
}

// Calibrate ramps listeners in one room until loss, CPU or latency crosses its
// limit, and recommends worker.max_consumers from the last good step.
func Calibrate(ctx context.Context, p CalibrateParams, progress func(CalibrateStep)) (CalibrateResult, error) {
	var res CalibrateResult
	if p.Scenario.AdminKey == "" {
		return res, errors.New("calibrate reads worker CPU and load through the admin API: an admin key is required")
	}
	if p.Step < 1 || p.MaxListeners < p.Step || p.Publishers < 1 {
		return res, errors.New("need publishers >= 1, step >= 1 and max listeners >= step")
	}
	sc := p.Scenario
	sc.Rooms, sc.Publishers, sc.Listeners, sc.Duration = 1, p.Publishers, 1, max(p.Window, time.Second)
	s, err := NewSession(sc, nil)
	if err != nil {
		return res, err
	}
	defer s.Close()
	rooms, inRoom := 0, 0
	room := ""
	openRoom := func() error {
		rooms++
		room, inRoom = fmt.Sprintf("%s-calibrate-%d", sc.RoomPrefix, rooms), 0
		before := s.Progress("", 0).Failed
		s.Join(ctx, room, p.Publishers, true)
		if s.Progress("", 0).Failed > before {
			return fmt.Errorf("publishers could not join: %v", s.JoinError())
		}
		return nil
	}
	if err := openRoom(); err != nil {
		return res, err
	}
	worker := -1
	lastGood := -1 // index in res.Steps
	for listeners := p.Step; listeners <= p.MaxListeners; listeners += p.Step {
		if p.RoomListeners > 0 && inRoom+p.Step > p.RoomListeners {
			if err := openRoom(); err != nil {
				return res, err
			}
		}
		before := s.Progress("", 0).Failed
		s.Join(ctx, room, p.Step, false)
		inRoom += p.Step
		if s.Progress("", 0).Failed > before {
			res.StopReason = fmt.Sprintf("%d of %d joins failed (the server's capacity limit or a failure): %v",
				s.Progress("", 0).Failed-before, p.Step, s.JoinError())
			break
		}
		r, err := s.measureStep(ctx, p)
		if err != nil {
			return res, err
		}
		ws1, err := s.Workers(ctx)
		if err != nil {
			return res, err
		}
		busy, units := -1, 0
		for i, w := range ws1 {
			if w.Transports > 0 {
				if busy >= 0 {
					res.StopReason = "the room spread over several workers: raise worker.max_consumers on the server while calibrating"
					return finish(res, p, lastGood), nil
				}
				busy, units = i, w.Load
			}
		}
		if busy < 0 {
			return res, errors.New("no worker holds the calibration room")
		}
		worker = busy
		// The window's CPU only (Measure's warmup excluded); the other workers are idle.
		cpu := r.ServerCPUSeconds / r.DurationSeconds
		step := CalibrateStep{Listeners: listeners, LoadUnits: units, WorkerCPU: cpu, Report: r}
		res.Steps = append(res.Steps, step)
		if progress != nil {
			progress(step)
		}
		if r.GeneratorBottleneck {
			res.StopReason = fmt.Sprintf("the load generator is the bottleneck (machine %.0f%% busy): run it from another host for a higher ramp", 100*r.MachineBusyRatio)
		} else {
			res.StopReason = p.crossed(r)
		}
		if res.StopReason != "" {
			break
		}
		lastGood = len(res.Steps) - 1
	}
	if res.StopReason == "" {
		res.StopReason = fmt.Sprintf("reached --max-listeners %d without crossing a limit", p.MaxListeners)
	}
	res.Worker = worker
	return finish(res, p, lastGood), nil
}

// finish fills in the capacity from the last good step, res.Steps[lastGood]
// (none when lastGood < 0).
func finish(res CalibrateResult, p CalibrateParams, lastGood int) CalibrateResult {
	if lastGood < 0 {
		return res
	}
	good := res.Steps[lastGood]
	res.CapacityUnits = good.LoadUnits
	res.RecommendedMaxConsume = int(float64(good.LoadUnits) * (1 - p.Margin))
	res.CPUMicrosAtCapacity = good.Report.CPUMicrosPerForwarded
	return res
}

// WriteCapacity sets worker.max_consumers in a YAML config file, keeping its other
// keys (the file is created if missing).
func WriteCapacity(path string, maxConsumers int) error {
	var doc yaml.Node
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a YAML mapping", path)
	}
	worker := mapChild(root, "worker")
	val := mapChild(worker, "max_consumers")
	*val = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(maxConsumers),
		LineComment: "calibrated by voicectl loadgen calibrate on " + time.Now().Format("2006-01-02")}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// mapChild returns the value node of key in a mapping, adding a mapping if absent.
func mapChild(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Value: key}
	v := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, k, v)
	return v
}

// crossed says which limit the step's report r crosses ("" when none).
func (p CalibrateParams) crossed(r Report) string {
	cpu := r.ServerCPUSeconds / r.DurationSeconds
	switch {
	case r.serverLossRatio() > p.MaxLoss:
		return fmt.Sprintf("loss %.2f%% > %.2f%%", 100*r.serverLossRatio(), 100*p.MaxLoss)
	case cpu > p.MaxCPU:
		return fmt.Sprintf("worker CPU %.0f%% > %.0f%%", 100*cpu, 100*p.MaxCPU)
	case p.MaxLatencyP99 > 0 && r.LatencyMsP99 > float64(p.MaxLatencyP99.Microseconds())/1000:
		return fmt.Sprintf("latency p99 %.1f ms > %s", r.LatencyMsP99, p.MaxLatencyP99)
	}
	return ""
}

// saturatedBusy is the machine's busy share above which a step's limit
// crossing may be the machine's, not the worker's.
const saturatedBusy = 0.85

// saturatedRemeasures is how many more windows a step gets while its limit
// crossings come with a saturated machine.
const saturatedRemeasures = 2

// measureStep measures the step's window; a window that crosses a limit
// while the machine was saturated by others (MachineBusyRatio above
// saturatedBusy, the generator not the cause) is measured again, up to
// saturatedRemeasures times, and the last window stands. Latency is taken
// end to end, so a packet whose sender, worker or listener waited for a core
// counts the wait: with a window's few hundred packets the p99 is its worst
// one or two, and on a shared host one descheduling of 50 ms (the default
// limit) ended the ramp at a load the worker carried at 0.3 ms. A limit the
// worker really crosses is crossed in every window.
func (s *Session) measureStep(ctx context.Context, p CalibrateParams) (Report, error) {
	for try := 0; ; try++ {
		r, err := s.Measure(ctx, s.sc.Duration, nil)
		if err != nil || !p.remeasure(r, try) {
			return r, err
		}
	}
}

// remeasure says whether the step whose try-th window (from 0) gave r is
// measured again: a limit crossed on a machine saturated by others.
func (p CalibrateParams) remeasure(r Report, try int) bool {
	return try < saturatedRemeasures && !r.GeneratorBottleneck && r.MachineBusyRatio > saturatedBusy && p.crossed(r) != ""
}
