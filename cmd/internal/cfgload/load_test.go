package cfgload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/voicectl/voicectl/server/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "voicectl.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func flags(t *testing.T, args ...string) (*pflag.FlagSet, map[string]string) {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("http-addr", "127.0.0.1:7880", "")
	fs.Int("rtc-port", 50000, "")
	fs.StringSlice("rtc-interfaces", nil, "")
	require.NoError(t, fs.Parse(args))
	return fs, map[string]string{"http-addr": "http.addr", "rtc-port": "rtc.port", "rtc-interfaces": "rtc.interfaces"}
}

const secretEnv = "VOICECTL_AUTH_SECRET=0123456789abcdef-env"

func TestDefaults(t *testing.T) {
	cfg, err := Load(Options{File: writeFile(t, "dev: true\n"), Environ: nil})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7880", cfg.HTTP.Addr)
	require.Equal(t, 50000, cfg.RTC.Port)
	require.True(t, cfg.RTC.Loopback)
	require.Equal(t, 500*time.Millisecond, cfg.Worker.RestartBackoff)
	require.Equal(t, 65536, cfg.Signal.MaxMessageBytes)
}

func TestPrecedenceFlagsEnvFileDefaults(t *testing.T) {
	file := writeFile(t, `
http:
  addr: 127.0.0.1:1111
rtc:
  port: 40000
  interfaces: [eth9]
  announced_ip: 203.0.113.7
auth:
  secret: 0123456789abcdef-file
log:
  level: debug
`)
	// File over defaults.
	cfg, err := Load(Options{File: file})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1111", cfg.HTTP.Addr)
	require.Equal(t, 40000, cfg.RTC.Port)
	require.Equal(t, []string{"eth9"}, cfg.RTC.Interfaces)
	require.Equal(t, "0123456789abcdef-file", cfg.Auth.Secret)
	require.Equal(t, "debug", cfg.Log.Level)

	// Environment over file.
	env := []string{secretEnv, "VOICECTL_RTC_PORT=41000", "VOICECTL_RTC_INTERFACES=lo,eth0", "PATH=/bin"}
	cfg, err = Load(Options{File: file, Environ: env})
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef-env", cfg.Auth.Secret)
	require.Equal(t, 41000, cfg.RTC.Port)
	require.Equal(t, []string{"lo", "eth0"}, cfg.RTC.Interfaces)
	require.Equal(t, "127.0.0.1:1111", cfg.HTTP.Addr, "file value kept where env is silent")

	// Flags over environment.
	fs, keys := flags(t, "--rtc-port", "42000", "--http-addr", "127.0.0.1:2222", "--rtc-interfaces", "lo")
	cfg, err = Load(Options{File: file, Environ: env, Flags: fs, FlagKey: keys})
	require.NoError(t, err)
	require.Equal(t, 42000, cfg.RTC.Port)
	require.Equal(t, "127.0.0.1:2222", cfg.HTTP.Addr)
	require.Equal(t, []string{"lo"}, cfg.RTC.Interfaces)

	// Unchanged flags do not override.
	fs, keys = flags(t)
	cfg, err = Load(Options{File: file, Environ: env, Flags: fs, FlagKey: keys})
	require.NoError(t, err)
	require.Equal(t, 41000, cfg.RTC.Port)
}

func TestConfigFileFromEnvAndSearchPath(t *testing.T) {
	file := writeFile(t, "dev: true\nrtc:\n  port: 43000\n")
	cfg, err := Load(Options{Environ: []string{ConfigFileEnv + "=" + file}})
	require.NoError(t, err)
	require.Equal(t, 43000, cfg.RTC.Port)

	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile("voicectl.yaml", []byte("dev: true\nrtc:\n  port: 44000\n"), 0o600))
	cfg, err = Load(Options{})
	require.NoError(t, err)
	require.Equal(t, 44000, cfg.RTC.Port)
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct {
		file string
		env  []string
		want string
	}{
		"unknown file key":    {file: "dev: true\nrtc:\n  prot: 1\n", want: `"rtc.prot"`},
		"unknown top key":     {file: "dev: true\nverbose: 1\n", want: `"verbose"`},
		"unknown env":         {file: "dev: true\n", env: []string{"VOICECTL_RTC_PROT=1"}, want: "VOICECTL_RTC_PROT"},
		"bad int":             {file: "dev: true\nrtc:\n  port: abc\n", want: "rtc.port"},
		"bad int env":         {file: "dev: true\n", env: []string{"VOICECTL_RTC_PORT=abc"}, want: "rtc.port"},
		"port range":          {file: "dev: true\nrtc:\n  port: 70000\n", want: `"rtc.port"`},
		"bad duration":        {file: "dev: true\nworker:\n  restart_backoff: soon\n", want: "worker.restart_backoff"},
		"bad ip":              {file: "dev: true\nrtc:\n  announced_ip: nope\n", want: `"rtc.announced_ip"`},
		"bad level":           {file: "dev: true\nlog:\n  level: loud\n", want: `"log.level"`},
		"missing secret":      {file: "http:\n  addr: 127.0.0.1:1\n", want: `"auth.secret"`},
		"short secret":        {file: "auth:\n  secret: short\n", want: `"auth.secret"`},
		"bad addr":            {file: "dev: true\nhttp:\n  addr: nocolon\n", want: `"http.addr"`},
		"tiny message limit":  {file: "dev: true\nsignal:\n  max_message_bytes: 10\n", want: `"signal.max_message_bytes"`},
		"negative workers":    {file: "dev: true\nworker:\n  count: -1\n", want: `"worker.count"`},
		"missing config file": {file: "", want: "config file"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.yaml")
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := Load(Options{File: path, Environ: tc.env})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEnvName(t *testing.T) {
	require.Equal(t, "VOICECTL_RTC_INTERFACES", EnvName("rtc.interfaces"))
	require.Equal(t, "VOICECTL_AUTH_SECRET", EnvName("auth.secret"))
	require.Equal(t, "VOICECTL_DATA_DIR", EnvName("data_dir"))
}

func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	path := filepath.Join("..", "..", "..", "configs", "voicectl.example.yaml")
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	// It loads (with a secret, as a real deployment would set one).
	cfg, err := Load(Options{File: path, Environ: []string{secretEnv}})
	require.NoError(t, err)
	require.Equal(t, 50000, cfg.RTC.Port)
	for _, k := range Keys() {
		leaf := k[strings.LastIndexByte(k, '.')+1:]
		require.Contains(t, string(body), leaf+":", "configs/voicectl.example.yaml lacks %s", k)
	}
}

func TestWebhookKeysFromTheEnvironment(t *testing.T) {
	cfg, err := Load(Options{Environ: []string{secretEnv, "VOICECTL_WEBHOOKS_URLS=http://a.test/hooks,https://b.test/",
		"VOICECTL_WEBHOOKS_KEY=webhook-key-0123456789", "VOICECTL_WEBHOOKS_RETRY_MIN=100ms"}})
	require.NoError(t, err)
	require.Equal(t, []string{"http://a.test/hooks", "https://b.test/"}, cfg.Webhooks.URLs)
	require.Equal(t, 100*time.Millisecond, cfg.Webhooks.RetryMin)
	require.Equal(t, 24*time.Hour, cfg.Webhooks.MaxAge)

	_, err = Load(Options{Environ: []string{secretEnv, "VOICECTL_WEBHOOKS_URLS=http://a.test/"}})
	var ke *config.KeyError
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "webhooks.key", ke.Key, "URLs without a key: nothing could be signed")
	_, err = Load(Options{Environ: []string{secretEnv, "VOICECTL_WEBHOOKS_URLS=ftp://a.test/", "VOICECTL_WEBHOOKS_KEY=webhook-key-0123456789"}})
	require.ErrorAs(t, err, &ke)
	require.Equal(t, "webhooks.urls", ke.Key)
}
