{
  "targets": [
    {
      "target_name": "vdsm_libvirt",
      "sources": ["src/virt/native/binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "<!@(pkg-config --cflags libvirt)"],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
