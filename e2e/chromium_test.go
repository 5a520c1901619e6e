package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/chromedp/chromedp"
)

// chromium is the package's shared Chromium: started on first use, started
// again if it has gone (a crash must not fail every later test), stopped
// by TestMain.
var chromium sharedChromium

type sharedChromium struct {
	mu      sync.Mutex
	browser context.Context // the first tab's context, alive while the browser is
	stop    func()
	dir     string
}

// context gives a context whose first Run opens a tab in a new browser
// context of the shared Chromium; its cancel closes that browser context.
func (c *sharedChromium) context() (context.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.browser == nil || c.browser.Err() != nil {
		if err := c.start(); err != nil {
			return nil, err
		}
	}
	ctx, _ := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
	return ctx, nil
}

func (c *sharedChromium) start() error {
	if _, err := os.Stat(chromiumPath); err != nil {
		return fmt.Errorf("chromium is required (make test installs Debian's chromium package): %w", err)
	}
	c.close()
	dir, err := os.MkdirTemp("", "e2e-chromium")
	if err != nil {
		return err
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumOptions(dir)...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if _, err := chromedp.Run(bctx, chromedp.Navigate("about:blank")); err != nil {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(dir)
		return errors.Join(errors.New("starting the shared Chromium"), err)
	}
	c.browser, c.dir = bctx, dir
	c.stop = func() {
		cancelBrowser()
		cancelAlloc()
	}
	return nil
}

// close stops the shared Chromium, if any, and removes its profile.
func (c *sharedChromium) close() {
	if c.stop != nil {
		c.stop()
		_ = os.RemoveAll(c.dir)
	}
	c.browser, c.stop, c.dir = nil, nil, ""
}

// stopChromium stops the shared Chromium after the package's tests.
func stopChromium() {
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	chromium.close()
}
