package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/voicectl/voicectl/server/config"
)

// The custom resources have no k8s.io/api type: these are the fields the
// manifests may use (strict decoding fails on any other).
type rabbitmqCluster struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Replicas  int                         `json:"replicas"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"spec"`
}

type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// rendered is the example overlay, each object decoded into its type.
type rendered struct {
	sts      appsv1.StatefulSet
	api      appsv1.Deployment
	services map[string]corev1.Service
	pdb      policyv1.PodDisruptionBudget
	hpa      autoscalingv2.HorizontalPodAutoscaler
	adapter  corev1.ConfigMap
	secret   corev1.Secret
	rabbit   rabbitmqCluster
	monitors []serviceMonitor
}

func render(t *testing.T, dir string) rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err)
	out := rendered{services: map[string]corev1.Service{}}
	for _, r := range rm.Resources() {
		b, err := r.AsYAML()
		require.NoError(t, err)
		strict := func(v any) {
			require.NoError(t, yaml.UnmarshalStrict(b, v), "%s %s:\n%s", r.GetKind(), r.GetName(), b)
		}
		switch r.GetKind() {
		case "StatefulSet":
			strict(&out.sts)
		case "Deployment":
			strict(&out.api)
		case "Service":
			var s corev1.Service
			strict(&s)
			out.services[s.Name] = s
		case "PodDisruptionBudget":
			strict(&out.pdb)
		case "HorizontalPodAutoscaler":
			strict(&out.hpa)
		case "ConfigMap":
			strict(&out.adapter)
		case "Secret":
			strict(&out.secret)
		case "RabbitmqCluster":
			strict(&out.rabbit)
		case "ServiceMonitor":
			var m serviceMonitor
			strict(&m)
			out.monitors = append(out.monitors, m)
		default:
			t.Fatalf("an object of a kind the test does not check: %s %s", r.GetKind(), r.GetName())
		}
	}
	return out
}

func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 {
		return corev1.EnvVar{}, false
	}
	return c.Env[i], true
}

// checkProbes: every probe is an HTTP GET of an endpoint the process serves
// (/healthz, /readyz), on the named container port the process listens on
// (the port of its address setting).
func checkProbes(t *testing.T, c corev1.Container, addrVar string) {
	t.Helper()
	addr, ok := env(c, addrVar)
	require.True(t, ok, "%s sets %s", c.Name, addrVar)
	_, port, found := strings.Cut(addr.Value, ":")
	require.True(t, found)
	probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe}
	require.NotNil(t, c.ReadinessProbe, c.Name)
	require.NotNil(t, c.LivenessProbe, c.Name)
	for kind, p := range probes {
		if p == nil {
			continue
		}
		require.NotNil(t, p.HTTPGet, "%s %s probe", c.Name, kind)
		require.Contains(t, []string{"/healthz", "/readyz"}, p.HTTPGet.Path, "%s %s probe", c.Name, kind)
		i := slices.IndexFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.HTTPGet.Port.StrVal })
		require.GreaterOrEqual(t, i, 0, "%s %s probe port %s names a container port", c.Name, kind, p.HTTPGet.Port.String())
		require.Equal(t, port, fmt.Sprint(c.Ports[i].ContainerPort), "%s %s probe: the port %s listens on", c.Name, kind, addrVar)
	}
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, "readiness follows /readyz (503 while draining)")
}

func TestKubernetesManifestsRenderAndDecodeStrictly(t *testing.T) {
	r := render(t, "kubernetes/overlays/example")

	// Servers: stable identity, host network, grace above the drain.
	require.Equal(t, "voicectl-serve", r.sts.Spec.ServiceName)
	require.Contains(t, r.services, "voicectl-serve")
	require.Equal(t, int32(4), *r.sts.Spec.Replicas, "the overlay's patch applies")
	pod := r.sts.Spec.Template.Spec
	require.True(t, pod.HostNetwork)
	require.Len(t, pod.Containers, 1)
	serve := pod.Containers[0]
	require.Equal(t, []string{"serve"}, serve.Args)
	require.Equal(t, "registry.example.com/voicectl:v0.1.0", serve.Image)
	drain, err := time.ParseDuration(config.Defaults()["drain.deadline"].(string))
	require.NoError(t, err)
	if e, ok := env(serve, "VOICECTL_DRAIN_DEADLINE"); ok {
		drain, err = time.ParseDuration(e.Value)
		require.NoError(t, err)
	}
	require.NotNil(t, pod.TerminationGracePeriodSeconds)
	require.Greater(t, time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second, drain+10*time.Second,
		"the grace period outlasts the drain (and the preStop hook's wait)")
	require.NotNil(t, serve.Lifecycle.PreStop.Exec)
	require.Equal(t, []string{"/voicectl", "servers", "drain", "--self"}, serve.Lifecycle.PreStop.Exec.Command[:4])
	checkProbes(t, serve, "VOICECTL_HTTP_ADDR")
	require.Len(t, r.sts.Spec.VolumeClaimTemplates, 1, "data_dir (server-id) on a volume of its own")
	require.Equal(t, "/data", serve.VolumeMounts[0].MountPath)
	dataDir, _ := env(serve, "VOICECTL_DATA_DIR")
	require.Equal(t, "/data", dataDir.Value)
	rtcPort, _ := env(serve, "VOICECTL_RTC_PORT")
	workers, _ := env(serve, "VOICECTL_WORKER_COUNT")
	udp := 0
	for _, p := range serve.Ports {
		if p.Protocol == corev1.ProtocolUDP {
			require.Equal(t, rtcPort.Value, fmt.Sprint(p.ContainerPort-int32(udp)), "worker i on rtc.port+i")
			udp++
		}
	}
	require.Equal(t, workers.Value, fmt.Sprint(udp), "one UDP port per worker")
	// ICE over TCP (rtc.tcp, on by default) takes each worker's UDP port
	// number over TCP (rtc.tcp_port 0).
	tcp := 0
	for _, p := range serve.Ports {
		if p.Protocol == corev1.ProtocolTCP && strings.HasPrefix(p.Name, "rtc-tcp-") {
			require.Equal(t, rtcPort.Value, fmt.Sprint(p.ContainerPort-int32(tcp)), "worker i's ICE-TCP port is rtc.port+i")
			tcp++
		}
	}
	require.Equal(t, workers.Value, fmt.Sprint(tcp), "one ICE-TCP port per worker")
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.False(t, *serve.SecurityContext.AllowPrivilegeEscalation)

	// At most one server disrupted at once.
	require.Equal(t, r.sts.Spec.Selector.MatchLabels, r.pdb.Spec.Selector.MatchLabels)
	require.Equal(t, 1, r.pdb.Spec.MaxUnavailable.IntValue())

	// The API: two replicas on PostgreSQL.
	require.Equal(t, int32(2), *r.api.Spec.Replicas)
	api := r.api.Spec.Template.Spec.Containers[0]
	require.Equal(t, []string{"api"}, api.Args)
	checkProbes(t, api, "VOICECTL_API_ADDR")
	_, ok := env(api, "VOICECTL_API_DATABASE_URL")
	require.True(t, ok, "the API replicas share PostgreSQL")
	require.Equal(t, "http", r.services["voicectl-api"].Spec.Ports[0].TargetPort.StrVal)

	// Every secret a container reads is in the overlay's Secret.
	for _, c := range []corev1.Container{serve, api} {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				require.Equal(t, r.secret.Name, e.ValueFrom.SecretKeyRef.Name)
				require.Contains(t, r.secret.Data, e.ValueFrom.SecretKeyRef.Key, "%s reads %s", c.Name, e.ValueFrom.SecretKeyRef.Key)
			}
		}
	}

	// Autoscaling on the cluster's stress, through the adapter's rule.
	require.Equal(t, "StatefulSet", r.hpa.Spec.ScaleTargetRef.Kind)
	require.Equal(t, r.sts.Name, r.hpa.Spec.ScaleTargetRef.Name)
	require.Len(t, r.hpa.Spec.Metrics, 1)
	metric := r.hpa.Spec.Metrics[0].External.Metric.Name
	var rules struct {
		ExternalRules []struct {
			SeriesQuery string `json:"seriesQuery"`
			Resources   struct {
				Namespaced bool `json:"namespaced"`
			} `json:"resources"`
			Name struct {
				As string `json:"as"`
			} `json:"name"`
			MetricsQuery string `json:"metricsQuery"`
		} `json:"externalRules"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(r.adapter.Data["config.yaml"]), &rules))
	require.Len(t, rules.ExternalRules, 1)
	require.Equal(t, metric, rules.ExternalRules[0].Name.As, "the HPA reads the metric the adapter serves")
	require.Contains(t, rules.ExternalRules[0].MetricsQuery, "voicectl_api_server_stress_ratio")
	require.Greater(t, *r.hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds, int32(300), "scale-down is slow: each step is a drain")

	// RabbitMQ replicated; both processes scraped.
	require.Equal(t, "rabbitmq.com/v1beta1", r.rabbit.APIVersion)
	require.GreaterOrEqual(t, r.rabbit.Spec.Replicas, 3, "quorum queues need three nodes")
	require.Len(t, r.monitors, 2)
	for _, m := range r.monitors {
		svc := r.services[m.Metadata.Name]
		for k, v := range m.Spec.Selector.MatchLabels {
			require.Equal(t, v, svc.Labels[k], "ServiceMonitor %s selects its Service", m.Metadata.Name)
		}
		require.Equal(t, "/metrics", m.Spec.Endpoints[0].Path)
		require.Equal(t, m.Spec.Endpoints[0].Port, svc.Spec.Ports[0].Name)
	}
}
