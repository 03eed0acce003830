package audit

import (
	"context"
	"fmt"
	"log/slog"
)

// sink is where a device's formatted lines go. write must not keep line
// after it returns, and must write each line whole or not at all as far
// as the target allows.
type sink interface {
	write(ctx context.Context, line []byte) error
	reload(ctx context.Context) error
	close() error
}

// device is a Device made of a formatter and a sink.
type device struct {
	f    *formatter
	sink sink
}

func newDevice(conf *DeviceConfig, s func(conf *DeviceConfig) (sink, error)) (Device, error) {
	opts, err := parseFormatOptions(conf.Options)
	if err != nil {
		return nil, err
	}
	salt := conf.Salt
	if salt == nil {
		if salt, err = GenerateSalt(); err != nil {
			return nil, err
		}
	}
	sk, err := s(conf)
	if err != nil {
		return nil, err
	}
	return &device{f: &formatter{opts: opts, salt: salt}, sink: sk}, nil
}

func (d *device) log(ctx context.Context, in *LogInput, kind string) error {
	buf, err := d.f.format(in, kind)
	if err != nil {
		return err
	}
	defer putBuffer(buf)
	return d.sink.write(ctx, buf.Bytes())
}

func (d *device) LogRequest(ctx context.Context, in *LogInput) error {
	return d.log(ctx, in, "request")
}

func (d *device) LogResponse(ctx context.Context, in *LogInput) error {
	return d.log(ctx, in, "response")
}

func (d *device) Reload(ctx context.Context) error { return d.sink.reload(ctx) }

func (d *device) Close() error { return d.sink.close() }

func loggerOf(conf *DeviceConfig) *slog.Logger {
	if conf.Logger != nil {
		return conf.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func requireOption(conf *DeviceConfig, name string) (string, error) {
	v := conf.Options[name]
	if v == "" {
		return "", fmt.Errorf("%s is required", name)
	}
	return v, nil
}
