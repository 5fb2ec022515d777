// A minimal cnitool over Debian's libcni (golang-github-appc-cni-dev): Debian ships no cnitool, and
// podman never calls CHECK. Usage: cni-helper add|check|del|version CONFLIST CONTAINERID NETNS IFNAME
// with CNI_PATH (plugin dirs), CNI_CACHE_DIR and optional CNI_ARGS. add prints the result JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: cni-helper add|check|del|version CONFLIST CONTAINERID NETNS IFNAME")
		os.Exit(2)
	}
	op, file := os.Args[1], os.Args[2]
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail(err)
	}
	var args [][2]string
	for _, kv := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			args = append(args, [2]string{k, v})
		}
	}
	rt := &libcni.RuntimeConf{ContainerID: os.Args[3], NetNS: os.Args[4], IfName: os.Args[5], Args: args}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()
	switch op {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	case "version":
		info, verr := cni.GetVersionInfo(ctx, list.Plugins[0].Network.Type)
		if verr != nil {
			fail(verr)
		}
		out, _ := json.Marshal(info.SupportedVersions())
		fmt.Println(string(out))
	default:
		err = fmt.Errorf("unknown op %q", op)
	}
	if err != nil {
		fail(err)
	}
}
