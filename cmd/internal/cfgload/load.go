// Package cfgload reads the server configuration with viper. Precedence, highest
// first: flags, VOICECTL_* environment variables, the YAML file (--config, else
// ./voicectl.yaml, else /etc/voicectl/voicectl.yaml), defaults.
package cfgload

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/voicectl/voicectl/server/config"
)

// EnvPrefix prefixes every environment variable.
const EnvPrefix = "VOICECTL"

// ConfigFileEnv names the config file when --config is not given.
const ConfigFileEnv = EnvPrefix + "_CONFIG"

// SearchPaths are tried in order when no file is named.
var SearchPaths = []string{"./voicectl.yaml", "/etc/voicectl/voicectl.yaml"}

// Options says where configuration comes from.
type Options struct {
	File    string
	Flags   *pflag.FlagSet
	FlagKey map[string]string // flag name → config key
	Environ []string
	// Validate checks the result; nil means config.Config.Validate (the server's rules).
	Validate func(*config.Config) error
}

// EnvName is the environment variable of a key: rtc.interfaces → VOICECTL_RTC_INTERFACES.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every configuration key, sorted.
func Keys() []string {
	var ks []string
	for k := range config.Defaults() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Load reads, merges, decodes and validates the configuration.
func Load(o Options) (config.Config, error) {
	var cfg config.Config
	v := viper.New()
	for k, d := range config.Defaults() {
		v.SetDefault(k, d)
	}
	env := map[string]string{}
	for _, kv := range o.Environ {
		name, val, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") {
			env[name] = val
		}
	}
	known := map[string]string{}
	for _, k := range Keys() {
		known[EnvName(k)] = k
	}
	for name, val := range env {
		if name == ConfigFileEnv {
			continue
		}
		k, ok := known[name]
		if !ok {
			return cfg, fmt.Errorf("unknown environment variable %s (known: VOICECTL_<KEY>, see configs/voicectl.example.yaml)", name)
		}
		v.Set(k, val) // set below flags: flags are re-applied after
	}

	file := o.File
	if file == "" {
		file = env[ConfigFileEnv]
	}
	if file == "" {
		for _, p := range SearchPaths {
			if _, err := os.Stat(p); err == nil {
				file = p
				break
			}
		}
	} else if _, err := os.Stat(file); err != nil {
		return cfg, fmt.Errorf("config file: %w", err)
	}
	if file != "" {
		fv := viper.New()
		fv.SetConfigFile(file)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", file, err)
		}
		keys := Keys()
		for _, k := range fv.AllKeys() {
			if !slices.Contains(keys, k) {
				return cfg, fmt.Errorf("config file %s: unknown key %q", file, k)
			}
			if _, fromEnv := env[EnvName(k)]; !fromEnv {
				v.Set(k, fv.Get(k))
			}
		}
	}
	if o.Flags != nil {
		for name, key := range o.FlagKey {
			f := o.Flags.Lookup(name)
			if f == nil {
				return cfg, fmt.Errorf("internal: flag --%s not defined", name)
			}
			if f.Changed {
				v.Set(key, f.Value.String())
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					v.Set(key, sv.GetSlice())
				}
			}
		}
	}
	if err := v.UnmarshalExact(&cfg); err != nil {
		return cfg, fmt.Errorf("config: %w", unwrapDecode(err))
	}
	validate := o.Validate
	if validate == nil {
		validate = (*config.Config).Validate
	}
	if err := validate(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func unwrapDecode(err error) error {
	// mapstructure prefixes its list of errors; each line already names the key.
	var u interface{ Unwrap() []error }
	if errors.As(err, &u) && len(u.Unwrap()) > 0 {
		return errors.Join(u.Unwrap()...)
	}
	return err
}
